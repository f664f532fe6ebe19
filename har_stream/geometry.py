"""How far apart people's boxes are: the one definition of the gap between two boxes that the temporal features,
the harvest of fighting crops and the research scripts share."""

from __future__ import annotations

import numpy as np


def box_gaps(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical gaps in pixels, ``(M,)`` each, between ``box`` (x1, y1, x2, y2) and each of
    ``others`` (M, 4); 0 on an axis where the two boxes overlap. Broadcasts: ``box`` may be (N, 1, 4) against
    ``others`` (1, M, 4) for every pair."""
    box, others = np.asarray(box), np.asarray(others)
    dx = np.maximum(0, np.maximum(others[..., 0] - box[..., 2], box[..., 0] - others[..., 2]))
    dy = np.maximum(0, np.maximum(others[..., 1] - box[..., 3], box[..., 1] - others[..., 3]))
    return dx, dy
