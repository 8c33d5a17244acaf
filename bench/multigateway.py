"""What-if: the same gateway as ``logsight local`` runs it, but as several processes.

``python -m bench.multigateway PORT WORKERS`` serves ``logsight.local.gateway.Gateway`` with
the default routes and handlers exactly as ``serve()`` does, on a listening socket opened with
SO_REUSEPORT, so that several such processes share one port and the kernel spreads connections
between them. Used by the bench's ``whatif`` section to measure suggestion "several gateway
processes" without touching src/.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    import uvicorn

    from logsight.local.gateway import Gateway, default_routes
    from logsight.local.http_limits import ConnectionLimits, limited_protocol

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    gateway = Gateway(default_routes(), workers)
    for route in gateway.routes:
        _ = route.handler
    config = uvicorn.Config(
        gateway,
        lifespan="off",
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http=limited_protocol(ConnectionLimits()),
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
