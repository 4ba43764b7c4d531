"""Portside's own notifications to operators' systems (outgoing webhooks)."""
