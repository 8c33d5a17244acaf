"""The Sentry ingestion protocol, so the official Sentry SDKs can send to LogSight."""
