"""The C heap of this process as glibc's malloc counts it, for the benchmarks' memory lines."""

from __future__ import annotations

import ctypes


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def c_heap() -> tuple[int, int] | None:
    """Bytes glibc's malloc has handed out and not had back (in its heaps and as mapped blocks),
    and bytes it holds free; None off glibc (macOS, musl)."""
    try:
        info = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    info.restype = _Mallinfo2
    glibc = info()
    return glibc.uordblks + glibc.hblkhd, glibc.fordblks
