"""A live preview window (OpenCV highgui); press q or Esc to stop."""

from __future__ import annotations

import cv2

from har_stream.frame import FrameRecord


class WindowUnavailableError(RuntimeError):
    """No display to open a window on."""


class WindowSink:
    """Shows each rendered frame; ``quit_requested`` turns true when the user presses q or Esc."""

    def __init__(self, title: str = "har-stream") -> None:
        self.title = title
        self.quit_requested = False
        self._opened = False

    def write(self, record: FrameRecord) -> None:
        """Show the frame and poll the keyboard."""
        try:
            if not self._opened:
                cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
                self._opened = True
            cv2.imshow(self.title, record.image)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:
            raise WindowUnavailableError(
                f"cannot open a window ({exc.err.strip() if hasattr(exc, 'err') else exc}); "
                "there is no display here: drop --show and use --export instead"
            ) from None
        if key in (ord("q"), 27):
            self.quit_requested = True

    def close(self) -> None:
        """Close the window."""
        if self._opened:
            cv2.destroyWindow(self.title)
            self._opened = False
