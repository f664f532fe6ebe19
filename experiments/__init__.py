"""The lab: experiment scripts that chose the product's defaults, and their results (``experiments/results/``).

Not part of the product: nothing under ``har_stream/`` imports them. Run each from the repository root as a module,
e.g. ``.venv/bin/python -m experiments.running_score``; the shared paths and clip folders are in
:mod:`experiments.paths`. What each result showed, and whether it was adopted: ``experiments/results/README.md``.
"""
