"""Outgoing HTTP for notifications, guarded against server-side request forgery.

The URL's host is resolved once; every address it resolves to must be public (not private,
loopback, link-local — the cloud metadata service at 169.254.169.254 among them —, shared,
reserved, multicast or unspecified; an IPv6 address that carries an IPv4 address (mapped,
NAT64, 6to4, Teredo) must carry a public one) unless it lies in
LOGSIGHT_ALERTS_ALLOWED_NETWORKS. The connection is then made to that vetted address itself,
never to the name (which a second resolution could point elsewhere), with the name kept for the
Host header, SNI and certificate verification. Redirects are never followed: a 3xx is a failed
delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_RESPONSE_BYTES = 64 * 1024


class Refused(Exception):
    """The destination may not be reached; no connection was made."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


def parse_networks(text: str) -> list[IpNetwork]:
    """``"127.0.0.1, 10.1.0.0/16, ::1"`` → networks (a bare address is a network of one)."""
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    ]


# NAT64 (RFC 6052): a gateway translating it would connect to the IPv4 address inside.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded(address: IpAddress) -> list[IpAddress]:
    """The address and the IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4,
    Teredo), each of which a route could end at."""
    found: list[IpAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
    return found


def _public(address: IpAddress) -> bool:
    # is_global is false for private, loopback, link-local, shared (100.64/10), reserved,
    # documentation and unspecified ranges; multicast is global but never a webhook.
    return address.is_global and not address.is_multicast


def forbidden(address: IpAddress, allowed: Iterable[IpNetwork]) -> bool:
    if any(address in network for network in allowed if network.version == address.version):
        return False
    return not all(_public(candidate) for candidate in _embedded(address))


def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc.strerror}") from exc
    found: list[IpAddress] = []
    for info in infos:
        # The scope id of a link-local IPv6 address (fe80::1%eth0) is not part of the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class GuardedClient:
    def __init__(self, allowed: list[IpNetwork], timeout: float) -> None:
        self.allowed = allowed
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def vet(self, url: str) -> tuple[str, str, int, list[IpAddress]]:
        """(scheme, host, port, the addresses that may be connected to) for ``url``, or
        Refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("not an http(s) URL")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port)
        if not addresses:
            raise Refused(f"{host} has no address")
        # One bad address refuses the name: a resolver answering with both a public and an
        # internal address must not get to choose.
        for address in addresses:
            if forbidden(address, self.allowed):
                raise Refused(f"{host} resolves to {address}, which notifications may not reach")
        return parts.scheme, host, port, addresses

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        scheme, host, port, addresses = self.vet(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if scheme == "https" else 80
        host_header = f"[{host}]" if ":" in host else host
        if port != default_port:
            host_header += f":{port}"
        request_headers = {**headers, "host": host_header, "user-agent": "LogSight-Alerts/1"}
        # Like a resolver-driven connect, each vetted address in turn until one accepts; what
        # happens after the connection (an answer, a timeout) is final.
        for index, address in enumerate(addresses):
            try:
                return self._post_to(scheme, host, port, address, target, body, request_headers)
            except urllib3.exceptions.NewConnectionError:
                if index == len(addresses) - 1:
                    raise
        raise Refused(f"{host} has no address")

    def _post_to(
        self,
        scheme: str,
        host: str,
        port: int,
        address: IpAddress,
        target: str,
        body: bytes,
        headers: dict[str, str],
    ) -> Response:
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(address),
                port,
                timeout=self.timeout,
                retries=False,
                maxsize=1,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                str(address), port, timeout=self.timeout, retries=False, maxsize=1
            )
        try:
            response = pool.urlopen(
                "POST",
                target,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                data = response.read(MAX_RESPONSE_BYTES)
            finally:
                response.release_conn()
            return Response(response.status, data)
        finally:
            pool.close()
