"""The REST API: the FastAPI app factory wiring every platform router."""
