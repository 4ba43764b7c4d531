"""Registry synchronization: walk the catalog, reconcile the index with what the walk saw."""
