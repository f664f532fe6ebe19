"""``har-stream serve``: a site's cameras, alert hub, event store, notifiers and web server; ``cluster`` runs the
cameras as Ray actors instead (``serve.cluster`` sits between the camera workers and the site runtime)."""
