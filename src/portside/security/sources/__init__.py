"""Vulnerability data that keeps itself current: OSV archives fetched by URL (fetch.py, the
only module that talks to the servers), their state (state.py), one update round (update.py),
the background task (task.py)."""
