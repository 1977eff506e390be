"""TFRecord container: read and write framed records without TensorFlow.

Each record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``,
little-endian. Both checksums are verified with the compiled CRC-32C of ``google-crc32c``. Errors name
the file, the record index and what failed.

In skip mode a record whose payload checksum fails is reported and reading goes on (its length was
verified, so the next record's position is known); a bad length checksum or a truncated file ends the
file, and the rest of it is reported as skipped.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

from drive.datasets.base import LoadReport
from drive.errors import DataError

HEADER_BYTES = 12
FOOTER_BYTES = 4
_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C: rotate right by 15 bits, then add a constant (mod 2**32)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def header_is_valid(header: bytes) -> bool:
    """Whether 12 bytes look like a TFRecord record header (length checksum matches)."""
    if len(header) < HEADER_BYTES:
        return False
    (crc,) = struct.unpack("<I", header[8:12])
    return masked_crc32c(header[:8]) == crc


def iter_records(
    path: str | Path, *, skip_errors: bool = False, report: LoadReport | None = None
) -> Iterator[bytes]:
    """Payloads of the records in ``path``, checksums verified.

    Raises :class:`DataError` ``"<path>: record <i>: <what failed>"``; with ``skip_errors=True`` the
    failure goes to ``report`` instead (see the module docstring for what is recoverable).
    """
    for _, payload in iter_indexed_records(path, skip_errors=skip_errors, report=report):
        yield payload


def iter_indexed_records(
    path: str | Path, *, skip_errors: bool = False, report: LoadReport | None = None
) -> Iterator[tuple[int, bytes]]:
    """Like :func:`iter_records`, yielding ``(record_index, payload)`` so callers can name records."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise DataError(f"{path}: cannot open: {err.strerror or err}") from err
    try:
        size = os.fstat(handle.fileno()).st_size
        index = 0
        while True:
            offset = handle.tell()
            header = handle.read(HEADER_BYTES)
            if not header:
                return
            try:
                payload = _read_one(handle, header, offset, size)
            except _PayloadCrcError as err:
                error = DataError(f"{path}: record {index}: {err}")
                if not skip_errors:
                    raise error from None
                _note(report, path, str(index), error)
                index += 1
                continue
            except DataError as err:
                error = DataError(f"{path}: record {index}: {err}")
                if not skip_errors:
                    raise error from None
                _note(report, path, f"{index} and any after it", error)
                return
            yield index, payload
            index += 1
    finally:
        handle.close()


class _PayloadCrcError(DataError):
    """The payload checksum failed but the framing is intact, so the next record can still be read."""


def _read_one(handle, header: bytes, offset: int, size: int) -> bytes:
    if len(header) < HEADER_BYTES:
        raise DataError(
            f"truncated header at byte {offset}: got {len(header)} of {HEADER_BYTES} bytes "
            "(the file ends mid-record)"
        )
    length, length_crc = struct.unpack("<QI", header)
    if masked_crc32c(header[:8]) != length_crc:
        raise DataError(f"bad length checksum at byte {offset} (corrupt file or not a TFRecord file)")
    remaining = size - offset - HEADER_BYTES
    if length + FOOTER_BYTES > remaining:
        raise DataError(
            f"truncated payload at byte {offset}: header says {length} bytes + {FOOTER_BYTES}-byte "
            f"checksum, only {max(remaining, 0)} left in the file"
        )
    payload = handle.read(length)
    footer = handle.read(FOOTER_BYTES)
    if len(payload) != length or len(footer) != FOOTER_BYTES:
        raise DataError(f"truncated payload at byte {offset}: the file ended while reading")
    (data_crc,) = struct.unpack("<I", footer)
    if masked_crc32c(payload) != data_crc:
        raise _PayloadCrcError(f"bad data checksum for the {length}-byte payload at byte {offset}")
    return payload


def _note(report: LoadReport | None, path: Path, record: str, error: DataError) -> None:
    if report is not None:  # the report lists file and record in their own columns
        reason = str(error).removeprefix(f"{path}: record {record.split()[0]}: ")
        report.skip(str(path), record, DataError(reason))


def frame_record(payload: bytes) -> bytes:
    """One record's bytes: header, payload and payload checksum."""
    length = struct.pack("<Q", len(payload))
    return b"".join(
        (
            length,
            struct.pack("<I", masked_crc32c(length)),
            payload,
            struct.pack("<I", masked_crc32c(payload)),
        )
    )


def write_records(path: str | Path, records: Iterable[bytes]) -> int:
    """Write ``records`` to ``path`` atomically (temp file in the same folder, then ``os.replace``), so
    a reader never sees a half-written file. Returns the number of records written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would make shared datasets unreadable to others
        with os.fdopen(fd, "wb") as handle:
            for payload in records:
                handle.write(frame_record(bytes(payload)))
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return count
