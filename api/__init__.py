"""The faces of rightsgate: the FastAPI app, its routers, and the `rightsgate` CLI."""
