"""Cost estimate of a stack from its resources: shared by the offline preview and the pack."""
