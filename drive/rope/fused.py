"""The fused CPU kernels of the RoPE core (``kernels/rotor_kernel.cpp``): built once per machine, used
when present.

``rope_angles(positions, frequencies)`` computes :func:`drive.rope.rope_angles`'s formula in one call;
``rotate_query_key_(q, k, query_angle, key_angle, num_heads, inverse)`` rotates queries and keys in place
in one call, with the eager rotor path's arithmetic (:mod:`drive.rope.rotor`). On layers of a few dozen
tokens the eager versions' dozen small kernels, not their arithmetic, are the time.

They are compiled with torch's C++ extension tooling on first use (10-20 s; the build is cached under
``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``) and loaded from that cache afterwards.
Without a C++ compiler or ninja, or with ``DRIVE_FUSED_KERNELS=0`` in the environment, the eager path runs
instead: the same values to rounding, about 20 µs more per attention call.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels") / "rotor_kernel.cpp"
# Bump when the operator's schema changes: a cached build of another schema is then never loaded.
_LIBRARY = "drive_rotor"
# The torch version is part of the name: a build against another torch's ABI is never loaded.
_BUILD_NAME = "drive_rotor_v1_torch_" + re.sub(r"\W", "_", torch.__version__)
ENV_SWITCH = "DRIVE_FUSED_KERNELS"

_lock = threading.Lock()
_state: dict[str, object] = {}


def enabled_by_environment() -> bool:
    """False when ``DRIVE_FUSED_KERNELS`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "false", "no", "off"}


def cpu_kernels():
    """The operators' namespace (``.rope_angles``, ``.rotate_query_key_``), or None when they are switched
    off, cannot be built here (the reason is logged once, at warning level), or a ``torch.compile`` trace
    is running (the compiler fuses the eager path itself)."""
    if not enabled_by_environment() or torch.compiler.is_compiling():
        return None
    if "op" in _state:
        return _state["op"]
    with _lock:
        if "op" not in _state:
            _state["op"], _state["reason"] = _load()
            if _state["op"] is None:
                log.warning("fused rotary kernels unavailable, using the eager path: %s", _state["reason"])
    return _state["op"]


def unavailable_reason() -> str | None:
    """Why :func:`cpu_kernels` returned None (None when they are available)."""
    cpu_kernels()
    return _state.get("reason") if enabled_by_environment() else f"{ENV_SWITCH} switches it off"


def _load():
    namespace = getattr(torch.ops, _LIBRARY)
    if hasattr(namespace, "rotate_query_key_"):  # already registered in this process
        return namespace, None
    try:
        from torch.utils.cpp_extension import load

        log.info("building the fused rotary kernels (once per machine, 10-20 s)")
        load(
            name=_BUILD_NAME,
            sources=[str(SOURCE)],
            extra_cflags=["-O3"],
            is_python_module=False,
            verbose=False,
        )
        return getattr(torch.ops, _LIBRARY), None
    except Exception as error:  # no compiler, no ninja, a failed build: the eager path is complete
        return None, f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error) else ''}"
