"""LogSight: events and errors in, a real-time dashboard and alerts out."""

__version__ = "0.1.0"
