"""HTTP benchmarks of the API under gunicorn (python -m bench.http.run)."""
