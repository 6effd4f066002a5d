"""Video generators: the bundled procedural one and adapters to external services."""
