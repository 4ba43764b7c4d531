"""Registry events: the webhook's envelope, the durable queue, and their processing."""
