"""Dense optical flow in and around each person, frame to frame: every pixel's motion, where the pose sees 17
points and the appearance patch a 16x32 grey thumbnail.

On every ``FLOW_EVERY``-th frame, for each person, the region of the box widened by ``PAD_X`` box heights on
each side (so a neighbour's arms flailing next to the person count too) is cut out of the previous frame and
this one, resampled to ``FLOW_SIZE`` x ``FLOW_SIZE`` px, and OpenCV's Farneback flow is computed between the
two. Flow is converted back to frame pixels, then to box heights per second, and the region's median flow (the
body's own translation, or a panning camera's) is subtracted, leaving how the limbs and the neighbours move.
Per person and frame, :data:`FLOW_STATS`:

- ``flow_mean``, ``flow_p90``: mean and 90th percentile residual speed inside the box;
- ``flow_upper``: mean residual speed in the upper half of the box (arms, head);
- ``flow_margin``: mean residual speed in the widened margins beside the box (what happens next to the person);
- ``flow_coherence``: |mean flow vector| / mean flow speed over the region, before the median is subtracted
  (a walker's flow points one way, a fight's every way).

People shorter than :data:`~har_stream.temporal.features.MIN_PERSON_PX` get NaN (their flow is noise, and
crowds of small people cost nothing), as does everyone on a source's first frame and on the frames between.
The statistics are computed for all of a frame's people at once (one Farneback call each, the rest in numpy).
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_SIZE = 32  # px; each region is resampled to FLOW_SIZE x FLOW_SIZE before the flow is computed
FLOW_EVERY = 2  # flow on every 2nd frame (from the frame before it): half the cost; 12 samples a second at 25 fps
FLOW_BUDGET = 10  # people given flow on one frame at most (see FrameFlow)
PAD_X = 0.25  # box heights added left and right
PAD_Y = 0.05  # box heights added above and below
FLOW_STATS: tuple[str, ...] = ("flow_mean", "flow_p90", "flow_upper", "flow_margin", "flow_coherence")
#: Statistics that are speeds (scale with playback speed); ``flow_coherence`` is a ratio.
SPEED_STATS: tuple[str, ...] = ("flow_mean", "flow_p90", "flow_upper", "flow_margin")


def to_grey(image: np.ndarray) -> np.ndarray:
    """The frame in grey, as the flow is computed on it."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _regions(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Integer (x1, y1, x2, y2) of each box widened by the pads and clipped to the frame."""
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 2.0)
    out = np.stack(
        [
            np.maximum(0, boxes[:, 0] - PAD_X * height),
            np.maximum(0, boxes[:, 1] - PAD_Y * height),
            np.minimum(shape[1], np.ceil(boxes[:, 2] + PAD_X * height)),
            np.minimum(shape[0], np.ceil(boxes[:, 3] + PAD_Y * height)),
        ],
        axis=1,
    )
    return out.astype(int)


def people_flow(previous: np.ndarray | None, grey: np.ndarray, boxes: np.ndarray, dt: float) -> np.ndarray:
    """(N, len(FLOW_STATS)) for the people ``boxes`` (xyxy) between two grey frames ``dt`` seconds apart;
    NaN rows without a previous frame and for regions under 4 px (who is tall enough is :class:`FrameFlow`'s
    choice)."""
    out = np.full((len(boxes), len(FLOW_STATS)), np.nan, np.float32)
    if previous is None or previous.shape != grey.shape or dt <= 0 or not len(boxes):
        return out
    boxes = np.asarray(boxes, dtype=np.float64)
    regions = _regions(boxes, grey.shape)
    size = regions[:, 2:] - regions[:, :2]
    chosen = np.flatnonzero((size >= 4).all(axis=1))
    if not len(chosen):
        return out
    n = FLOW_SIZE
    flows = np.empty((len(chosen), n, n, 2), np.float32)
    for k, i in enumerate(chosen):
        x1, y1, x2, y2 = regions[i]
        a = cv2.resize(previous[y1:y2, x1:x2], (n, n), interpolation=cv2.INTER_AREA)
        b = cv2.resize(grey[y1:y2, x1:x2], (n, n), interpolation=cv2.INTER_AREA)
        flows[k] = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)
    height = boxes[chosen, 3] - boxes[chosen, 1]
    # resampled pixels -> frame pixels (per axis) -> box heights per second
    flows *= (size[chosen] / n / (height * dt)[:, None]).astype(np.float32)[:, None, None, :]
    speed = np.sqrt((flows**2).sum(axis=3))
    coherence = np.linalg.norm(flows.mean(axis=(1, 2)), axis=1) / np.maximum(speed.mean(axis=(1, 2)), 1e-6)
    median = np.median(flows.reshape(len(chosen), -1, 2), axis=1)
    residual = np.sqrt(((flows - median[:, None, None, :]) ** 2).sum(axis=3))  # (k, n, n)
    # which resampled columns are the box itself (the rest is the widened margin)
    left = (boxes[chosen, 0] - regions[chosen, 0]) / size[chosen, 0] * n
    right = (boxes[chosen, 2] - regions[chosen, 0]) / size[chosen, 0] * n
    columns = np.arange(n) + 0.5
    inner = (columns[None, :] >= left[:, None]) & (columns[None, :] <= right[:, None])
    inner[np.arange(len(chosen)), np.clip(((left + right) / 2).astype(int), 0, n - 1)] = True
    width = inner.sum(axis=1)
    column_sums = residual.sum(axis=1)  # (k, n): each column summed over rows
    upper_sums = residual[:, : n // 2].sum(axis=1)
    margin_width = n - width
    # 90th percentile inside the box: margins set below any speed, sorted, counted from the top
    ranked = np.sort(np.where(inner[:, None, :], residual, -1.0).reshape(len(chosen), -1), axis=1)
    count = width * n
    p90 = np.take_along_axis(ranked, (n * n - count + np.floor(0.9 * (count - 1))).astype(int)[:, None], 1)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[chosen] = np.stack(
            [
                (column_sums * inner).sum(axis=1) / count,
                p90,
                (upper_sums * inner).sum(axis=1) / (width * (n // 2)),
                np.where(margin_width > 0, (column_sums * ~inner).sum(axis=1) / (margin_width * n), np.nan),
                coherence,
            ],
            axis=1,
        )
    return out


def person_flow(previous: np.ndarray, grey: np.ndarray, box: np.ndarray, dt: float) -> np.ndarray:
    """:data:`FLOW_STATS` of one person (``box`` xyxy) between two grey frames ``dt`` seconds apart."""
    return people_flow(previous, grey, np.asarray(box, dtype=np.float64)[None, :], dt)[0]


class FrameFlow:
    """Remembers the previous frame of a stream and gives :func:`people_flow` on every ``FLOW_EVERY``-th frame
    (by frame index; NaN rows on the others).

    At most ``budget`` people get flow on one frame: in a crowd, those whose flow is the longest overdue (then
    the tallest), so everyone is sampled in turn, less often; the cost stays bounded however many people there
    are. The harvested training clips never have more than 9 people tall enough on a frame, so this changes
    nothing they were trained on.
    """

    def __init__(self, min_height: float, every: int = FLOW_EVERY, budget: int = FLOW_BUDGET) -> None:
        self.min_height = min_height
        self.every = every
        self.budget = budget
        self._previous: np.ndarray | None = None
        self._t = 0.0
        self._last: dict[int, int] = {}  # track id -> frame index of its last flow

    def __call__(
        self, image: np.ndarray, t: float, boxes: np.ndarray, index: int, track_ids: np.ndarray | None = None
    ) -> np.ndarray:
        """Flow statistics of ``boxes`` (of the tracks ``track_ids``; None: row order stands in for them)
        between the previous frame and ``image`` (BGR or already grey; frame ``index``, taken at media time
        ``t``)."""
        grey = to_grey(image)
        out = np.full((len(boxes), len(FLOW_STATS)), np.nan, np.float32)
        if index % self.every == 0 and len(boxes) and self._previous is not None:
            boxes = np.asarray(boxes, dtype=np.float64)
            ids = np.arange(len(boxes)) if track_ids is None else np.asarray(track_ids, dtype=np.int64)
            heights = boxes[:, 3] - boxes[:, 1]
            tall = np.flatnonzero(heights >= self.min_height)
            if len(tall) > self.budget:
                overdue = np.array([self._last.get(int(ids[i]), -(10**9)) for i in tall])
                tall = tall[np.lexsort((-heights[tall], overdue))[: self.budget]]
            if len(tall):
                out[tall] = people_flow(self._previous, grey, boxes[tall], t - self._t)
                for i in tall:
                    self._last[int(ids[i])] = index
            if len(self._last) > 4 * self.budget + 256:  # forget tracks long gone
                self._last = {k: v for k, v in self._last.items() if index - v <= 100 * self.every}
        self._previous, self._t = grey, t
        return out
