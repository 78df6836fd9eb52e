"""Process-wide settings for data-loading processes. Library code never calls these; entry points
(the trainer before it starts DataLoader workers, ``irodori bench data``) may.

Why: one 512 px sample allocates a dozen 1-3 MB temporaries. glibc serves each with a fresh
``mmap`` (or trims the heap right after freeing it), so every sample pays a page fault per 4 KiB
touched; measured on this project's CPU, that is half of the time of a full sample. Raising the
mmap and trim thresholds keeps those pages in the heap for reuse (about 2x samples/s, at the cost
of each process holding up to ``trim_threshold`` bytes of freed memory).
"""

from __future__ import annotations

from irodori.threads import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, mallopt


def tune_allocator(mmap_threshold: int = 16 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Raise glibc's malloc mmap/trim thresholds for this process (inherited by forked workers).

    Returns False, changing nothing, where the C library is not glibc.
    """
    return mallopt({M_MMAP_THRESHOLD: mmap_threshold, M_TRIM_THRESHOLD: trim_threshold})
