"""Project errors. Each subclasses :class:`DriveError` and a builtin so callers can catch either."""


class DriveError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(DriveError, ValueError):
    """Input data is malformed. The message names the file, record or scenario, and field."""


class ConfigError(DriveError, ValueError):
    """A configuration value is invalid. The message names the field, the value and what is allowed."""


class CheckpointError(DriveError, ValueError):
    """A checkpoint cannot be loaded (wrong model, older schema, unsafe content)."""


def missing_extra(package: str, extra: str) -> ImportError:
    """An ImportError telling the user which extra or package to install."""
    return ImportError(
        f"{package} is needed here; install it with `pip install 'drive[{extra}]'` or `pip install {package}`"
    )
