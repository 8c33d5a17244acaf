"""From queued messages to stored rows: decoding, enrichment, grouping, dead letters."""
