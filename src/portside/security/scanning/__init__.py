"""The security-scanning background task: which digests to scan, scanning them, keeping the
findings current when the vulnerability data changes."""
