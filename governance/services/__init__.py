"""Services hold the domain logic; handlers and CLI commands call them with keyword arguments."""
