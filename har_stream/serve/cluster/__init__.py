"""Cluster mode: a site's cameras as Ray actors spread over many machines, one dashboard and store on the head.

Nothing here imports Ray at module level; only a site with a ``cluster`` section loads it (``engine``).
Modules (the site's ``cluster`` section itself is :mod:`har_stream.config.cluster`): ``relay`` (an actor's outbox
of alert events), ``actor`` (the camera actor wrapping :class:`~har_stream.serve.camera.CameraWorker`),
``ledger`` (dedup and ``worker_lost`` ends), ``engine`` (connecting to Ray) and ``supervisor`` (the head-side
camera handle). It sits inside ``serve``: above the camera workers and the hub, below the site runtime.
"""
