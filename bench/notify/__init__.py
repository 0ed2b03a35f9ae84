"""Benchmarks of the notification outbox and dispatcher (python -m bench.notify.run)."""
