"""The temporal stage: per-person pose and motion windows scored by the temporal model (fighting, running).

Runtime only; training this model lives in :mod:`har_stream.training` (``temporal_dataset``, ``temporal_training``,
``temporal_card``).
"""
