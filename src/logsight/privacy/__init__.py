"""Privacy: scrubbing secrets and personal data before anything is stored, per-project rules,
e-mail and IP address handling, and the rules for deleting and exporting a user's data."""
