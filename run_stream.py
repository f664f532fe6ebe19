#!/usr/bin/env python3
"""Same as the ``har-stream`` command: ``python run_stream.py run --source VIDEO --config CONFIG ...``."""

from har_stream.cli import main

if __name__ == "__main__":
    main()
