"""Turning an HTTP request into validated, normalized events ready to queue."""
