"""What every source module offers, and the record of what skip mode skipped.

A source module (``womd``, ``av2``, ``eth_ucy``) exposes:

- ``detect(path: Path) -> bool``: whether ``path`` (a file or directory) holds this source's data;
- ``iter_scenarios(path: Path, *, skip_errors: bool = False, report: LoadReport | None = None,
  **options) -> Iterator[Scenario]``: raises :class:`DataError` naming file, record and field on bad
  input, or with ``skip_errors=True`` records the bad record in ``report`` and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drive.errors import DataError


@dataclass(frozen=True)
class SkippedRecord:
    path: str
    record: str
    reason: str


@dataclass
class LoadReport:
    """Collects what skip mode skipped; ``loaded`` counts scenarios yielded."""

    skipped: list[SkippedRecord] = field(default_factory=list)
    loaded: int = 0

    def skip(self, path: str, record: str, error: DataError) -> None:
        self.skipped.append(SkippedRecord(str(path), str(record), str(error)))

    def summary(self) -> str:
        lines = [f"loaded {self.loaded} scenario(s), skipped {len(self.skipped)}"]
        lines += [f"  skipped {s.path} record {s.record}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)
