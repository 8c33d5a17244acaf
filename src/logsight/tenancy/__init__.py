"""Who may see and change what: principals, roles, and the scoped data-access layer."""
