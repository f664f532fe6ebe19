"""A real RTSP camera for tests: gst-rtsp-server streaming a video clip in a loop, live, at its frame rate.

Run with the system Python that has GStreamer's introspection bindings (Debian: python3-gi,
gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,bad,ugly}, gstreamer1.0-libav), not the
project's virtualenv::

    /usr/bin/python3 tests/rtsp_server.py --clip clip.mp4 --port 8554 --path /cam

The clip is decoded once at start; each client gets its own pipeline that re-encodes the frames as H.264
(a keyframe every second, like an IP camera) and streams them forever, looping. Prints ``READY <url>`` on
stdout once it accepts connections. Kill it to simulate a camera that drops; SIGSTOP it to simulate one
that stalls with its connections still open.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def decode_clip(path: str) -> tuple[list[bytes], str]:
    """Every frame of ``path`` as raw I420 bytes, and the caps string that describes them."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false'
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames: list[bytes] = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = caps or sample.get_caps()
        buffer = sample.get_buffer()
        frames.append(buffer.extract_dup(0, buffer.get_size()))
    pipeline.set_state(Gst.State.NULL)
    if not frames or caps is None:
        raise SystemExit(f"rtsp_server: no frames decoded from {path}")
    structure = caps.get_structure(0)
    width, height = structure.get_value("width"), structure.get_value("height")
    return frames, f"video/x-raw,format=I420,width={width},height={height}"


class LoopingCamera(GstRtspServer.RTSPMediaFactory):
    """One live pipeline per client: appsrc (the looped frames) → x264 → RTP."""

    def __init__(self, frames: list[bytes], caps: str, fps: int) -> None:
        super().__init__()
        self.frames = frames
        self.fps = fps
        self.duration = Gst.SECOND // fps
        self.set_launch(
            f"( appsrc name=src is-live=true format=time caps={caps},framerate={fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bframes=0 "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        self.set_shared(False)
        self.connect("media-configure", self._configure)

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_child_by_name("src")
        state = {"n": 0}

        def need_data(appsrc: Gst.Element, _length: int) -> None:
            n = state["n"]
            buffer = Gst.Buffer.new_wrapped(self.frames[n % len(self.frames)])
            buffer.pts = buffer.dts = n * self.duration
            buffer.duration = self.duration
            state["n"] = n + 1
            appsrc.emit("push-buffer", buffer)

        src.connect("need-data", need_data)


def main() -> None:
    """Parse arguments, decode the clip, serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()

    Gst.init(None)
    frames, caps = decode_clip(args.clip)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.path, LoopingCamera(frames, caps, args.fps))
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        raise SystemExit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path} {len(frames)} frames {caps}", flush=True)
    loop.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
