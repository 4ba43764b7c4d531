"""The garbage collector: old, unused tags go (off by default)."""
