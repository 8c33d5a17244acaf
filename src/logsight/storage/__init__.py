"""PostgreSQL / TimescaleDB storage: migrations, writes, maintenance and queries."""
