"""Alerting: rules evaluated on the rollups, a state per rule claimed in the database, and
notifications delivered to channels through an SSRF-guarded client (docs/alerts.md)."""
