"""TFRecord framing: round trip, the reference checksum, and every way a file can be damaged."""

from __future__ import annotations

import struct

import pytest

from drive.datasets.base import LoadReport
from drive.datasets.tfrecord import frame_record, iter_records, masked_crc32c, write_records
from drive.errors import DataError
from tests.conftest import shared_path


def test_masked_crc_matches_known_value():
    # CRC-32C("123456789") = 0xE3069283 (the standard check value); masking rotates right by 15
    # and adds 0xA282EAD8.
    crc = 0xE3069283
    expected = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"123456789") == expected


def test_round_trip_and_atomic_replace(tmp_path):
    path = tmp_path / "out.tfrecord"
    records = [b"", b"a", bytes(range(256)) * 3]
    assert write_records(path, records) == 3
    assert list(iter_records(path)) == records
    write_records(path, [b"new"])
    assert list(iter_records(path)) == [b"new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.tfrecord"]  # no temp file left behind


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "out.tfrecord"
    write_records(path, [b"old"])

    def broken():
        yield b"partial"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        write_records(path, broken())
    assert list(iter_records(path)) == [b"old"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.tfrecord"]


def test_real_file_frames_byte_identically():
    path = shared_path("womd", "motion_data_one_scenario.tfrecord")
    raw = path.read_bytes()
    (payload,) = list(iter_records(path))
    assert frame_record(payload) == raw


def _file(tmp_path, data: bytes):
    path = tmp_path / "bad.tfrecord"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("cut", [1, 11, 12, 20, -1])
def test_truncated_file_names_file_and_record(tmp_path, cut):
    data = frame_record(b"first") + frame_record(b"second record")
    first = len(frame_record(b"first"))
    path = _file(tmp_path, data[: first + cut] if cut > 0 else data[:cut])
    with pytest.raises(DataError, match=rf"{path.name}: record 1: truncated"):
        list(iter_records(path))


def test_bad_length_checksum(tmp_path):
    data = bytearray(frame_record(b"payload"))
    data[0] ^= 0x01
    path = _file(tmp_path, bytes(data))
    with pytest.raises(DataError, match=r"record 0: bad length checksum"):
        list(iter_records(path))


def test_bad_data_checksum_skips_only_that_record(tmp_path):
    bad = bytearray(frame_record(b"payload"))
    bad[14] ^= 0x40
    path = _file(tmp_path, frame_record(b"one") + bytes(bad) + frame_record(b"three"))
    with pytest.raises(DataError, match=r"record 1: bad data checksum"):
        list(iter_records(path))
    report = LoadReport()
    assert list(iter_records(path, skip_errors=True, report=report)) == [b"one", b"three"]
    assert [(s.record, "bad data checksum" in s.reason) for s in report.skipped] == [("1", True)]


def test_huge_length_with_valid_checksum_is_truncation(tmp_path):
    length = struct.pack("<Q", 2**62)
    header = length + struct.pack("<I", masked_crc32c(length))
    path = _file(tmp_path, header + b"tiny")
    with pytest.raises(DataError, match="truncated payload"):
        list(iter_records(path))
    report = LoadReport()
    assert list(iter_records(path, skip_errors=True, report=report)) == []
    assert report.skipped[0].record == "0 and any after it"


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot open"):
        list(iter_records(tmp_path / "nope.tfrecord"))
