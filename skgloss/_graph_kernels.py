"""numba kernels of the exact corpus-graph search (imported on first use by :mod:`skgloss.graph`).

They live at module level, not inside a factory function: numba's disk cache
(``cache=True``) keys a function by its closure variables, and a compiled
helper captured from an enclosing scope (a dispatcher, whose key differs in
every process) made every process miss the cache, compile the kernels again
(about 1.6 s on 2 cores) and add another entry to the cache directory.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _argmin(values):  # pragma: no cover - compiled
    lo = 0
    for t in range(1, values.shape[0]):
        if values[t] < values[lo]:
            lo = t
    return lo


@numba.njit(parallel=True, cache=True)
def select_rows(S, row0, col0, best_v, best_i):  # pragma: no cover - compiled
    """Fold each row of ``S`` (document ``row0 + r``) into its running top-k list, skipping itself."""
    m, n = S.shape
    for r in numba.prange(m):
        g = row0 + r
        lo = _argmin(best_v[g])
        floor = best_v[g, lo]
        for c in range(n):
            if S[r, c] > floor and col0 + c != g:
                best_v[g, lo] = S[r, c]
                best_i[g, lo] = col0 + c
                lo = _argmin(best_v[g])
                floor = best_v[g, lo]


@numba.njit(parallel=True, cache=True)
def select_columns(S, row0, col0, best_v, best_i):  # pragma: no cover - compiled
    """Fold each column of ``S`` (document ``col0 + c``) into its running top-k list."""
    m, n = S.shape
    span = 64
    for part in numba.prange((n + span - 1) // span):
        c0, c1 = part * span, min(n, part * span + span)
        lo = np.empty(c1 - c0, dtype=np.int64)
        floor = np.empty(c1 - c0, dtype=S.dtype)
        for c in range(c0, c1):
            lo[c - c0] = _argmin(best_v[col0 + c])
            floor[c - c0] = best_v[col0 + c, lo[c - c0]]
        for r in range(m):
            for c in range(c0, c1):
                if S[r, c] > floor[c - c0]:
                    g = col0 + c
                    best_v[g, lo[c - c0]] = S[r, c]
                    best_i[g, lo[c - c0]] = row0 + r
                    lo[c - c0] = _argmin(best_v[g])
                    floor[c - c0] = best_v[g, lo[c - c0]]
