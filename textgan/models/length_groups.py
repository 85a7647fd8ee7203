"""Rows sorted by length, cut into groups each convolved at its longest row's width (``models/discriminator.py``'s
torch path): few padded cells, few small GEMMs."""

from __future__ import annotations

from collections.abc import Sequence

GROUP_ROWS = 16  # rows sorted by length are grouped in multiples of this many (smaller GEMMs lose their rate)


def length_groups(widths: Sequence[float], rows: int = GROUP_ROWS) -> list[tuple[int, int]]:
    """Cut ascending row widths (or costs in widths) into consecutive groups [start, stop), each convolved at its
    last row's width: the cuts (at multiples of `rows`) minimise the padded cells, with `rows` cells of width
    charged per group for the rate a smaller GEMM loses."""
    n = len(widths)
    if n == 0:
        return []
    cuts = sorted({*range(rows, n, rows), n})  # candidate group ends
    best = {0: (0, -1)}  # end -> (cost of covering rows [0, end), previous end)
    for stop in cuts:
        best[stop] = min((best[start][0] + (stop - start + rows) * widths[stop - 1], start)
                         for start in [0, *cuts] if start < stop and start in best)
    groups, stop = [], n
    while stop > 0:
        start = best[stop][1]
        groups.append((start, stop))
        stop = start
    return groups[::-1]
