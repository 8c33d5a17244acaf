"""API function: FastAPI behind Mangum. The app is built at import, once per environment;
database connections open on first use."""

from __future__ import annotations

from mangum import Mangum

from logsight.api.app import create_app
from logsight.config import get_settings

app = create_app(get_settings())
handler = Mangum(app, lifespan="off")
