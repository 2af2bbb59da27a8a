"""Bench stage: every backend and precision of ONE checkpoint side by side (latency, throughput,
memory, accuracy, the whole field pipeline), recorded as JSON, markdown and a PNG plot.

``bench_from_checkpoint`` (run.py) derives the artifacts (artifacts.py), lists the candidate
(backend, precision) entries (backends.py), times each in its own process (worker.py, timing.py,
memory.py), scores it on validation tiles (accuracy.py) and writes the report (report.py).
"""
