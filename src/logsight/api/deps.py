"""FastAPI dependencies: a pooled connection, the authenticated principal, scoped access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from logsight.api import client_address
from logsight.api.services import ApiServices
from logsight.tenancy.access import Access, Principal


def services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


def connection(svc: Annotated[ApiServices, Depends(services)]) -> Iterator[psycopg.Connection]:
    with svc.pool.connection() as conn:
        yield conn


def principal(
    request: Request,
    conn: Annotated[psycopg.Connection, Depends(connection)],
    svc: Annotated[ApiServices, Depends(services)],
) -> Principal:
    return svc.authenticator.authenticate(conn, request.headers.get("authorization"))


def access(
    conn: Annotated[psycopg.Connection, Depends(connection)],
    who: Annotated[Principal, Depends(principal)],
) -> Access:
    return Access(conn, who)


def client_ip(request: Request, svc: Annotated[ApiServices, Depends(services)]) -> str | None:
    """The caller's address (logsight.api.client_address): the CloudFront viewer's when the
    request provably came through the distribution, else API Gateway's sourceIp via Mangum,
    else the socket's peer."""
    event = request.scope.get("aws.event") or {}
    source = (event.get("requestContext") or {}).get("http", {}).get("sourceIp")
    if not source:
        source = request.client.host if request.client else None
    return client_address.client_ip(
        request.headers, str(source) if source else None, svc.settings.cloudfront_secret
    )


Conn = Annotated[psycopg.Connection, Depends(connection)]
CurrentAccess = Annotated[Access, Depends(access)]
ClientIp = Annotated[str | None, Depends(client_ip)]
Services = Annotated[ApiServices, Depends(services)]
