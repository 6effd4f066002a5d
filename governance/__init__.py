"""rightsgate's domain: entities, services, the signed log, settings and storage."""
