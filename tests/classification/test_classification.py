"""Crops and the classification scheduler."""

from __future__ import annotations

import numpy as np

from har_stream.action_model import square_resize
from har_stream.classification import ClassificationScheduler, crop_people, square_box


def test_square_resize_keeps_aspect_by_padding() -> None:
    tall = np.full((200, 100, 3), 255, dtype=np.uint8)
    out = square_resize(tall, 64)
    assert out.shape == (64, 64, 3)
    assert out[:, :10].max() == 0 and out[:, -10:].max() == 0  # padded sides
    assert out[:, 24:40].min() == 255  # the image itself, centred


def test_square_box_pads_and_clips_to_the_frame() -> None:
    assert square_box(np.array([100, 100, 140, 200]), 0.0, 1000, 1000) == (70, 100, 170, 200)
    left, top, right, bottom = square_box(np.array([0, 0, 40, 100]), 0.1, 1000, 1000)
    assert left == 0 and top == 0 and right > 40 and bottom > 100


def test_crop_people_returns_one_square_crop_per_box() -> None:
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    image[100:300, 200:260] = (0, 0, 255)
    crops = crop_people(image, np.array([[200, 100, 260, 300], [600, 400, 640, 480]], dtype=np.float32), 0.1, 96)
    assert crops.shape == (2, 96, 96, 3)
    assert crops[0, 48, 48, 2] == 255  # the red person is in the middle of its crop


def test_scheduler_new_tracks_first_then_stalest_within_budget() -> None:
    scheduler = ClassificationScheduler(every_n_frames=3, reclassify_iou=0.5, max_per_frame=2, min_box_height=10)
    ids = np.array([1, 2, 3])
    boxes = np.array([[0, 0, 10, 50], [20, 0, 30, 50], [40, 0, 50, 50]], dtype=np.float32)
    first = scheduler.select(ids, boxes)
    assert len(first) == 2  # budget
    second = scheduler.select(ids, boxes)
    assert set(ids[second]) == {3}  # the one never classified; the others are fresh
    assert len(scheduler.select(ids, boxes)) == 0  # nobody is due yet
    due = scheduler.select(ids, boxes)  # frame 4: the first two are 3 frames old
    assert set(ids[due]) == set(ids[first])


def test_scheduler_reclassifies_on_big_box_change_and_skips_tiny_people() -> None:
    scheduler = ClassificationScheduler(every_n_frames=100, reclassify_iou=0.5, max_per_frame=8, min_box_height=20)
    ids = np.array([1, 2])
    boxes = np.array([[0, 0, 10, 50], [100, 100, 105, 110]], dtype=np.float32)  # track 2 is 10 px tall
    assert ids[scheduler.select(ids, boxes)].tolist() == [1]
    moved = boxes.copy()
    moved[0] += [30, 0, 30, 0]
    assert ids[scheduler.select(ids, moved)].tolist() == [1]
    assert scheduler.select(ids, moved).tolist() == []
    scheduler.forget([1])
    assert len(scheduler) == 0
