"""The fused CPU kernels of the rotary and pose attention layers (``kernels/*.cpp``): built once per
machine, used when present.

``rope_angles(positions, frequencies)`` computes :func:`drive.rope.rope_angles`'s formula in one call;
``rotate_query_key_(q, k, query_angle, key_angle, num_heads, inverse)`` rotates queries and keys in place
in one call, with the eager rotor path's arithmetic (:mod:`drive.rope.rotor`); ``se2_transform`` and
``se2_transform_backward`` apply the SE(2) pose representations of :mod:`drive.nn.se2_attention`. On
layers of a few dozen tokens the eager versions' many small kernels, not their arithmetic, are the time.

They are compiled with torch's C++ extension tooling on first use (10-20 s; the build is cached under
``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``) and loaded from that cache afterwards.
Without a C++ compiler or ninja, or with ``DRIVE_FUSED_KERNELS=0`` in the environment, the eager path runs
instead: the same values to rounding, about 20 µs more per attention call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import torch

log = logging.getLogger(__name__)

SOURCES = tuple(Path(__file__).with_name("kernels") / name for name in ("rotor_kernel.cpp", "se2_kernel.cpp"))
_OPS = (
    ("drive_rotor", "rope_angles"),
    ("drive_rotor", "rotate_query_key_"),
    ("drive_se2", "se2_transform"),
    ("drive_se2", "se2_transform_backward"),
    ("drive_se2", "se2_transform_many"),
    ("drive_se2", "se2_transform_many_backward"),
)
# Bump when an operator's schema changes: a cached build of another schema is then never loaded.
# The torch version is part of the name: a build against another torch's ABI is never loaded.
_BUILD_NAME = "drive_kernels_v1_torch_" + re.sub(r"\W", "_", torch.__version__)
ENV_SWITCH = "DRIVE_FUSED_KERNELS"

_lock = threading.Lock()
_state: dict[str, object] = {}


def enabled_by_environment() -> bool:
    """False when ``DRIVE_FUSED_KERNELS`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "false", "no", "off"}


def cpu_kernels():
    """The operators as attributes (``.rope_angles``, ``.rotate_query_key_``, ``.se2_transform``,
    ``.se2_transform_backward``, ``.se2_transform_many``, ``.se2_transform_many_backward``), or None when
    they are switched off, cannot be built here (the reason is logged once, at warning level), or a
    ``torch.compile`` trace is running (the compiler fuses the eager path itself)."""
    if not enabled_by_environment() or torch.compiler.is_compiling():
        return None
    if "op" in _state:
        return _state["op"]
    with _lock:
        if "op" not in _state:
            _state["op"], _state["reason"] = _load()
            if _state["op"] is None:
                log.warning("fused CPU kernels unavailable, using the eager paths: %s", _state["reason"])
    return _state["op"]


def unavailable_reason() -> str | None:
    """Why :func:`cpu_kernels` returned None (None when they are available)."""
    cpu_kernels()
    return _state.get("reason") if enabled_by_environment() else f"{ENV_SWITCH} switches it off"


def _load():
    if not _registered():
        try:
            from torch.utils.cpp_extension import load

            log.info("building the fused CPU kernels (once per machine, 10-30 s)")
            with _ninja_on_path():
                load(
                    name=_BUILD_NAME,
                    sources=[str(source) for source in SOURCES],
                    extra_cflags=["-O3"],
                    is_python_module=False,
                    verbose=False,
                )
        except Exception as error:  # no compiler, no ninja, a failed build: the eager paths are complete
            message = str(error).strip().splitlines()
            return None, f"{type(error).__name__}: {message[-1] if message else ''}"
    kernels = SimpleNamespace(**{op: getattr(getattr(torch.ops, library), op) for library, op in _OPS})
    _prime(kernels)
    return kernels, None


def _prime(kernels) -> None:
    """One call down the rotation's table path (ATen's vectorised cos and sin), so that the one-time cost
    of first use (code paged in, dispatch tables set up) is paid when the kernels load, not inside the first
    layer call that needs it."""
    with torch.no_grad():
        q, k = torch.zeros(64, 96), torch.zeros(64, 96)
        kernels.rotate_query_key_(q, k, torch.zeros(64, 8, 6), None, 8, False)


@contextlib.contextmanager
def _ninja_on_path():
    """The ``ninja`` package's binary on PATH while torch builds, where the environment's scripts folder
    is not on PATH (an interpreter run by its full path, say)."""
    saved = os.environ.get("PATH", "")
    try:
        if shutil.which("ninja") is None:
            try:
                import ninja

                os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + saved
            except (ImportError, AttributeError):
                pass
        yield
    finally:
        os.environ["PATH"] = saved


def _registered() -> bool:
    """Whether this process has loaded the operators already (a build by another module, say)."""
    try:
        return all(hasattr(getattr(torch.ops, library), op) for library, op in _OPS)
    except (AttributeError, RuntimeError):
        return False
