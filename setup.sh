#!/usr/bin/env bash
# Set up har-stream in ./.venv: Python 3.11, CPU inference, everything from PyPI.
# Safe to run again: it reinstalls only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")"

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
"$VENV/bin/python" -m pip install --quiet -e ".[train,dev,openvino]"
echo "$WANT" > "$STAMP"
echo "setup.sh: done. Try: $VENV/bin/har-stream --help"
