"""How far clip-level figures could move on other footage: 95% intervals for rates and for the AUROC.

A few dozen clips give wide intervals (3 false alarms in 22 clips is anything from 5% to 33%), and clips cut
from the same recording are not independent, so the AUROC's interval resamples whole recording groups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
BOOTSTRAP_ROUNDS = 2000


def wilson_interval(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of the rate ``hits / n`` (None when ``n`` is 0); sound for small ``n`` and rates
    at 0 or 1, where the plain normal interval fails."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    return low, high


def group_bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], float | None],
    scores: Sequence[float],
    positive: Sequence[bool],
    groups: Sequence[str],
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile 95% interval of ``statistic(scores, positive)`` (e.g. the AUROC) when whole recording groups
    are drawn with replacement (clips of one recording move together); None without both classes or with fewer
    than 2 groups. Draws where the statistic is None (one class missing) are left out."""
    scores_a = np.asarray(scores, dtype=np.float64)
    positive_a = np.asarray(positive, dtype=bool)
    names, group_of = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    if len(names) < 2 or positive_a.all() or not positive_a.any():
        return None
    members = [np.flatnonzero(group_of == g) for g in range(len(names))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        chosen = np.concatenate([members[g] for g in rng.integers(0, len(names), len(names))])
        value = statistic(scores_a[chosen], positive_a[chosen])
        if value is not None:
            values.append(value)
    if not values:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
