"""Authentication: bearer JWTs (Clerk, any OIDC issuer, LogSight's built-in issuer) and
personal API tokens."""
