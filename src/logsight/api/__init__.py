"""The read side and the management API: FastAPI, served by Mangum on Lambda."""
