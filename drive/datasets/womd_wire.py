"""Vectorised extraction of WOMD track states and map points from protobuf wire bytes.

Reading ~7,500 object states and ~20,000 map points one attribute at a time costs ~15 ms a scenario,
ten times the protobuf parse itself. WOMD (and :func:`drive.datasets.womd.write_scenarios`) encode
every valid ``ObjectState`` with all ten fields and every invalid one with ``center_z`` and ``valid``
only, and every ``MapPoint`` with ``x, y, z``; those records have fixed byte layouts, so their fields
can be gathered with numpy. Every tag byte the fast path relies on is checked; a track or polyline
whose bytes do not match falls back to the attribute-by-attribute reference path, so the result never
depends on the layout (the tests compare both paths on real data).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TRACK_FIELDS = ("x", "y", "heading", "velocity_x", "velocity_y", "length", "width", "height")

# ObjectState payload with all fields: (tag byte, offset of the tag, value dtype or None for the bool).
_FULL_STATE_BYTES = 59
_FULL_STATE = {
    "x": (0x11, 0, "<f8"),
    "y": (0x19, 9, "<f8"),
    "z": (0x21, 18, "<f8"),
    "length": (0x2D, 27, "<f4"),
    "width": (0x35, 32, "<f4"),
    "height": (0x3D, 37, "<f4"),
    "heading": (0x45, 42, "<f4"),
    "velocity_x": (0x4D, 47, "<f4"),
    "velocity_y": (0x55, 52, "<f4"),
    "valid": (0x58, 57, None),
}
# An invalid state as WOMD writes it: center_z (garbage, ignored) then valid.
_SHORT_STATE_BYTES = 11
_SHORT_STATE = {"z": (0x21, 0, "<f8"), "valid": (0x58, 9, None)}
_STATES_TAG = 0x1A  # Track field 3, length-delimited
_POINT_BYTES = 27  # MapPoint payload: x, y, z doubles with their tags


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``[0..counts[0]), [0..counts[1]), ...`` concatenated: each element's index within its group."""
    counts = np.asarray(counts, np.int64)
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _records(buf: np.ndarray, pos: np.ndarray, fields: dict[str, tuple[int, str]], size: int) -> np.ndarray:
    """Structured view ``[N]`` of the ``size``-byte records starting at byte positions ``pos [N]``,
    with ``fields`` name -> (byte offset of the value, dtype). One gather copies all records."""
    layout = np.dtype(
        {
            "names": list(fields),
            "formats": [dtype for _, dtype in fields.values()],
            "offsets": [offset for offset, _ in fields.values()],
            "itemsize": size,
        }
    )
    rows = buf[pos[:, None] + np.arange(size)]  # (N, size) bytes, contiguous
    return rows.view(layout)[:, 0]


def _skip_to_field(blob: bytes, field_number: int) -> int:
    """Byte offset of the first occurrence of ``field_number`` in a serialized message, else len."""
    pos = 0
    while pos < len(blob):
        key, pos = _varint(blob, pos)
        if key >> 3 == field_number:
            return pos - 1 if key < 0x80 else -1
        wire = key & 7
        if wire == 0:
            _, pos = _varint(blob, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(blob, pos)
            pos += length
        else:
            return -1
    return len(blob)


def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = blob[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return result, pos
        shift += 7


def track_arrays_reference(tracks: Sequence) -> dict[str, np.ndarray]:
    """Per-track state arrays ``[A, T]`` read attribute by attribute (the slow, obvious path)."""
    columns = {name: [] for name in (*TRACK_FIELDS, "valid")}
    if len(tracks) == 0:
        return {name: np.zeros((0, 0), bool if name == "valid" else np.float64) for name in columns}
    for track in tracks:
        rows = [
            (s.center_x, s.center_y, s.heading, s.velocity_x, s.velocity_y, s.length, s.width, s.height)
            for s in track.states
        ]
        values = np.asarray(rows, np.float64).reshape(-1, len(TRACK_FIELDS))
        for k, name in enumerate(TRACK_FIELDS):
            columns[name].append(values[:, k])
        columns["valid"].append(np.fromiter((s.valid for s in track.states), bool, len(track.states)))
    return {name: np.stack(rows) for name, rows in columns.items()}


def track_arrays(tracks: Sequence, num_steps: int) -> dict[str, np.ndarray]:
    """Per-track state arrays ``[A, T]`` (x, y float64; the rest as stored; valid bool).

    Every track must hold ``num_steps`` states (the caller checks). Equal to
    :func:`track_arrays_reference`; tracks whose bytes are not in the known layouts use it.
    """
    num_tracks = len(tracks)
    out = {name: np.zeros((num_tracks, num_steps), np.float64) for name in TRACK_FIELDS}
    out["valid"] = np.zeros((num_tracks, num_steps), bool)
    if num_tracks == 0 or num_steps == 0:
        return out
    blobs = [track.SerializeToString() for track in tracks]
    lengths = np.fromiter((len(b) for b in blobs), np.int64, num_tracks)
    begin = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    end = begin + lengths
    region = begin + np.fromiter((_skip_to_field(b, 3) for b in blobs), np.int64, num_tracks)
    buf = np.frombuffer(b"".join(blobs), np.uint8)

    # Candidate record starts: the states tag, then a known payload length and its first field tag.
    head = buf[:-2]
    cand = np.flatnonzero(
        (head == _STATES_TAG)
        & (
            ((buf[1:-1] == _FULL_STATE_BYTES) & (buf[2:] == _FULL_STATE["x"][0]))
            | ((buf[1:-1] == _SHORT_STATE_BYTES) & (buf[2:] == _SHORT_STATE["z"][0]))
        )
    )
    owner = np.searchsorted(begin, cand, side="right") - 1
    keep = cand >= region[owner]
    cand, owner = cand[keep], owner[keep]
    fast = np.bincount(owner, minlength=num_tracks) == num_steps
    starts = cand[fast[owner]].reshape(-1, num_steps)  # (A_fast, T) record starts, in order
    rows = np.flatnonzero(fast)
    payload_len = buf[starts + 1].astype(np.int64)
    nxt = starts + 2 + payload_len
    chained = (
        (starts[:, 0] == region[rows])
        & np.all(nxt[:, :-1] == starts[:, 1:], axis=1)
        & (nxt[:, -1] == end[rows])
    )
    rows, payload, payload_len = rows[chained], starts[chained] + 2, payload_len[chained]
    full = payload_len == _FULL_STATE_BYTES
    tags_ok = np.ones_like(full)
    last = len(buf) - 1  # offsets of the other layout may point past the end; those are masked out
    for layout, which in ((_FULL_STATE, full), (_SHORT_STATE, ~full)):
        for tag, offset, _ in layout.values():
            tags_ok &= ~which | (buf[np.minimum(payload + offset, last)] == tag)
    good = np.all(tags_ok, axis=1)
    rows, payload, full = rows[good], payload[good], full[good]

    value_fields = {n: (o + 1, d) for n, (_, o, d) in _FULL_STATE.items() if d is not None and n != "z"}
    records = _records(buf, payload[full], value_fields, _FULL_STATE_BYTES)
    for name in value_fields:
        target = out[name][rows]
        target[full] = records[name]
        out[name][rows] = target
    valid_offset = np.where(full, _FULL_STATE["valid"][1], _SHORT_STATE["valid"][1]) + 1
    out["valid"][rows] = buf[payload + valid_offset] != 0

    slow = np.setdiff1d(np.arange(num_tracks), rows)
    if slow.size:
        reference = track_arrays_reference([tracks[i] for i in slow])
        for name, values in reference.items():
            out[name][slow] = values
    return out


def polyline_points_reference(repeated_points: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Points ``[P_total, 2]`` float64 and counts ``[M]`` of repeated MapPoint fields, one by one."""
    counts = np.fromiter((len(points) for points in repeated_points), np.int64, len(repeated_points))
    xy = [(p.x, p.y) for points in repeated_points for p in points]
    return np.asarray(xy, np.float64).reshape(-1, 2), counts


def polyline_points(messages: Sequence, field_numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Points ``[P_total, 2]`` float64 and counts ``[M]`` of the repeated MapPoint field number
    ``field_numbers[m]`` of each map sub-message (``LaneCenter``, ``RoadLine``, ``Crosswalk``, ...).

    Equal to :func:`polyline_points_reference` on the same fields.
    """
    num = len(messages)
    fields = [m.DESCRIPTOR.fields_by_number[f].name for m, f in zip(messages, field_numbers)]
    repeated = [getattr(m, name) for m, name in zip(messages, fields)]
    counts = np.fromiter((len(r) for r in repeated), np.int64, num)
    if num == 0:
        return np.zeros((0, 2), np.float64), counts
    blobs = [m.SerializeToString() for m in messages]
    tags = np.asarray([(f << 3) | 2 for f in field_numbers], np.int64)
    offsets = np.fromiter(
        (b.find(bytes([t, _POINT_BYTES, 0x09])) for b, t in zip(blobs, tags.tolist())), np.int64, num
    )
    lengths = np.fromiter((len(b) for b in blobs), np.int64, num)
    base = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    buf = np.frombuffer(b"".join(blobs), np.uint8)
    stride = _POINT_BYTES + 2
    fits = (offsets >= 0) & (offsets + counts * stride <= lengths)
    fit_counts = np.where(fits, counts, 0)
    owner = np.repeat(np.arange(num), fit_counts)
    within = ragged_arange(fit_counts)
    pos = base[owner] + offsets[owner] + within * stride
    ok = (
        (buf[pos] == tags[owner])
        & (buf[pos + 1] == _POINT_BYTES)
        & (buf[pos + 2] == 0x09)
        & (buf[pos + 11] == 0x11)
        & (buf[pos + 20] == 0x19)
    )
    bad = np.bincount(owner[~ok], minlength=num) > 0
    fast = fits & ~bad
    points = np.zeros((int(counts.sum()), 2), np.float64)
    point_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = fast[owner]
    dest = point_start[owner[take]] + within[take]
    records = _records(buf, pos[take], {"x": (3, "<f8"), "y": (12, "<f8")}, stride)
    points[dest, 0] = records["x"]
    points[dest, 1] = records["y"]
    slow = np.flatnonzero(~fast)
    if slow.size:
        slow_points, slow_counts = polyline_points_reference([repeated[i] for i in slow])
        dest = np.repeat(point_start[slow], slow_counts) + ragged_arange(slow_counts)
        points[dest] = slow_points
    return points, counts
