"""The policies.yaml schema and the pure evaluator: no I/O, no imports from the other packages."""
