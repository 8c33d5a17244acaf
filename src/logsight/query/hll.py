"""Estimating unique users from a HyperLogLog register histogram.

The sketches live in SQL as rows (register, rho) (see migration 0005: 2^14 registers, a 64-bit
hash, rho in 1..51). Queries merge them with ``max(rho) GROUP BY register`` and return only the
histogram ``rho → number of registers``; this module turns it into an estimate with Ertl's
improved raw estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
2017), which is unbiased over the whole range without empirical correction tables, from a
handful of users (where it behaves like linear counting) to billions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

P = 14
M = 1 << P
Q = 64 - P  # bits left for rho; rho ranges over 0..Q+1
ALPHA_INF = 1 / (2 * math.log(2))
STANDARD_ERROR = 1.04 / math.sqrt(M)


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3


def estimate(histogram: Iterable[tuple[int, int]]) -> int:
    """Unique count from (rho, registers) pairs of the non-empty registers."""
    counts = [0] * (Q + 2)
    filled = 0
    for rho, registers in histogram:
        counts[min(max(int(rho), 1), Q + 1)] += int(registers)
        filled += int(registers)
    counts[0] = M - filled
    if counts[0] == M:
        return 0
    z = M * _tau(1.0 - counts[Q + 1] / M)
    for k in range(Q, 0, -1):
        z = 0.5 * (z + counts[k])
    z += M * _sigma(counts[0] / M)
    return round(ALPHA_INF * M * M / z)
