"""The index: registries, namespaces, repositories, tags and activities."""
