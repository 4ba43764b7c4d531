"""Shared test configuration: tests are sorted by what they need (unit / integration / e2e)."""
