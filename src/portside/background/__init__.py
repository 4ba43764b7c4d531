"""The background process: each task in its own loop (runtime.py), their state (state.py)."""
