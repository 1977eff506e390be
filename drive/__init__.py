"""drive: multi-agent trajectory prediction with rotary (DRoPE-RoPE) attention.

The RoPE core in :mod:`drive.rope` imports nothing else from this package and can be used alone.
"""

__version__ = "0.1.0"
