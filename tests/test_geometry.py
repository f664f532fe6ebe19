"""The gap between people's boxes, shared by the temporal features and the harvest of fighting crops."""

from __future__ import annotations

import numpy as np

from har_stream.geometry import box_gaps


def test_box_gaps_are_zero_on_overlapping_axes_and_the_distance_elsewhere() -> None:
    box = np.array([10.0, 10.0, 20.0, 40.0])
    others = np.array(
        [
            [15.0, 20.0, 30.0, 50.0],  # overlaps: no gap on either axis
            [25.0, 10.0, 35.0, 40.0],  # 5 px to the right, same rows
            [0.0, 50.0, 4.0, 60.0],  # 6 px to the left, 10 px below
        ]
    )
    dx, dy = box_gaps(box, others)
    assert np.array_equal(dx, [0.0, 5.0, 6.0]) and np.array_equal(dy, [0.0, 0.0, 10.0])
    assert np.hypot(dx, dy)[2] == np.hypot(6.0, 10.0)


def test_box_gaps_broadcast_to_every_pair_symmetrically() -> None:
    boxes = np.random.default_rng(0).uniform(0, 100, (6, 2))
    boxes = np.concatenate([boxes, boxes + 20], axis=1)
    dx, dy = box_gaps(boxes[:, None, :], boxes[None, :, :])
    assert dx.shape == (6, 6) and np.array_equal(dx, dx.T) and np.array_equal(dy, dy.T)
    assert not np.diag(dx).any() and not np.diag(dy).any()
    single = box_gaps(boxes[2], boxes)
    assert np.array_equal(single[0], dx[2]) and np.array_equal(single[1], dy[2])
