"""poolterm's view of its pools for the monitoring a team already runs: Prometheus metrics.

``rounds`` counts how long the probe's rounds take, ``metrics`` turns one snapshot of the
probe (a diagnosis, the pacing, the round times) into metric families, ``http`` serves them,
and ``exporter`` runs the console's probe loop behind that server (`poolterm exporter`).
`poolterm check --format openmetrics` prints the same families once.
"""
