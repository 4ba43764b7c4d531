"""The HTTP side: the registry's webhook, the JSON API, health."""
