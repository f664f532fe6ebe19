#!/usr/bin/env bash
# Set up har-stream: the system packages its tests start (Debian/Ubuntu, via apt) and ./.venv with Python 3.11
# and everything from PyPI (CPU inference). Safe to run again: each step runs only when something is missing
# or pyproject.toml / this script changed. HAR_STREAM_SKIP_APT=1 skips the system packages (the pipeline
# itself does not need them; the RTSP, browser and MQTT tests do).
set -euo pipefail
cd "$(dirname "$0")"

# 1. System packages the tests use for real: gst-rtsp-server (RTSP fault tests, under the system Python),
#    Chromium (dashboard browser test) and mosquitto (MQTT tests).
APT_PACKAGES="python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
    chromium mosquitto"
if [ "${HAR_STREAM_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null && ! dpkg -s $APT_PACKAGES >/dev/null 2>&1
then
    echo "setup.sh: installing system packages for the tests (apt)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 install -y $APT_PACKAGES >/dev/null
fi

# 2. The virtual environment.
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.har-stream-installed"
WANT=$(cat pyproject.toml setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/har-stream" ]; then
    echo "setup.sh: $VENV is up to date"
    exit 0
fi
echo "setup.sh: creating $VENV (a few minutes on first run)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# ultralytics needs torch and torchvision built for each other (torch 2.13 with PyPI's torchvision fails
# with "torchvision::nms does not exist"); this pair runs on the CPU.
"$VENV/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1
"$VENV/bin/python" -m pip install --quiet -e ".[train,serve,dev,openvino,cluster]"
echo "$WANT" > "$STAMP"
echo "setup.sh: done. Try: $VENV/bin/har-stream --help"
