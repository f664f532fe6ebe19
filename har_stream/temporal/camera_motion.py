"""How far the camera has panned or tilted: the background's shift in the image, frame to frame, so that a
person's speed can be measured against the scene rather than against the frame.

A camera that pans to follow a runner keeps them still in the image while the background slides past; a fixed
camera sees the opposite. On each frame, reduced to ``WIDTH`` px wide, up to ``MAX_CORNERS`` corners are found
outside the people's boxes (OpenCV's ``goodFeaturesToTrack``), and on the next frame they are followed with
pyramidal Lucas-Kanade flow (``calcOpticalFlowPyrLK``). The median of their displacements is the background's
shift (the approach of BoT-SORT's camera-motion compensation, with people masked out so that a crowd walking one
way does not read as a pan). It counts only when at least ``MIN_POINTS`` corners were followed, at least
``MIN_AGREEMENT`` of them moved within ``AGREE_PX`` of that median, and it is at least ``DEADBAND_PX`` frame
pixels: a fixed camera's offset stays exactly zero, whatever its noise, compression or swaying mast.

:meth:`CameraMotion.update` returns the accumulated offset: where a point fixed in the scene now appears, relative
to where it appeared on the first frame. A box minus the offset is in scene coordinates. Zoom and rotation are not
modelled.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Width in pixels the frame is reduced to (narrower frames are used as they are).
WIDTH = 320
#: Corners followed from one frame to the next, at most.
MAX_CORNERS = 200
#: Fewer followed corners than this: no estimate (a blank, dark or featureless frame).
MIN_POINTS = 12
#: Share of the followed corners that must move within ``AGREE_PX`` (reduced pixels) of the median shift.
MIN_AGREEMENT = 0.5
AGREE_PX = 1.0
#: Per-frame shifts smaller than this, in frame pixels, count as a still camera.
DEADBAND_PX = 1.5
#: Box heights added around each person's box before it is masked out (limbs outside the box).
MASK_PAD = 0.1


class CameraMotion:
    """The camera's accumulated pan and tilt as an offset in frame pixels (see the module docstring)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._corners: np.ndarray | None = None
        self.offset = np.zeros(2, dtype=np.float64)

    def reset(self) -> None:
        """Forget the previous frame and the offset (a new stream)."""
        self._previous = self._corners = None
        self.offset = np.zeros(2, dtype=np.float64)

    def update(self, grey: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Add one grey frame and its people's boxes (xyxy, frame pixels); return the offset (dx, dy) in frame
        pixels a point fixed in the scene has moved since the first frame."""
        h, w = grey.shape[:2]
        scale = min(1.0, WIDTH / w)
        size = (int(w * scale), int(h * scale))
        small = grey if scale == 1.0 else cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if self._previous is not None and self._previous.shape != small.shape:
            self.reset()  # a new frame size: a new stream
        if self._previous is not None and self._corners is not None and len(self._corners) >= MIN_POINTS:
            shift = self._shift(self._previous, small, self._corners)
            if shift is not None and np.hypot(*(shift / scale)) >= DEADBAND_PX:
                self.offset = self.offset + shift / scale
        self._corners = cv2.goodFeaturesToTrack(
            small, maxCorners=MAX_CORNERS, qualityLevel=0.01, minDistance=5, mask=_background(small.shape, boxes, scale)
        )
        self._previous = small
        return self.offset.copy()

    @staticmethod
    def _shift(previous: np.ndarray, current: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
        """The median displacement of the corners followed from ``previous`` to ``current`` (reduced pixels), or
        None when too few were followed or too few agree with it."""
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, winSize=(15, 15), maxLevel=3)
        followed = status.ravel() == 1
        d = (moved[followed] - corners[followed]).reshape(-1, 2).astype(np.float64)
        if len(d) < MIN_POINTS:
            return None
        median = np.median(d, axis=0)
        if np.mean(np.hypot(*(d - median).T) <= AGREE_PX) < MIN_AGREEMENT:
            return None
        return median


def _background(shape: tuple[int, ...], boxes: np.ndarray, scale: float) -> np.ndarray:
    """A mask (255: background) of a reduced frame with every person's padded box cleared."""
    mask = np.full(shape[:2], 255, dtype=np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * scale:
        pad = MASK_PAD * (y2 - y1)
        mask[max(int(y1 - pad), 0) : max(int(y2 + pad) + 1, 0), max(int(x1 - pad), 0) : max(int(x2 + pad) + 1, 0)] = 0
    return mask
