"""The exporter's HTTP side: ``--listen HOST:PORT`` checked, bound, and served from a thread.

prometheus_client's WSGI app renders the metrics; the server around it is the standard
library's, as prometheus_client's own ``start_http_server`` builds it, with what a
long-running exporter needs besides: it is bound before any host is probed (a port in use
is a one-line error, not a traceback after the first round), it never prints a line per
request, and closing it waits for the scrapes in flight, so SIGTERM never cuts one off.
"""

from __future__ import annotations

import re
import socket
import socketserver
import sys
import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app

from poolterm.errors import UsageError, one_line
from poolterm.monitoring.metrics import Snapshot, registry
from poolterm.xe import validate_address

#: The path Prometheus scrapes by default.
METRICS_PATH = "/metrics"
#: Seconds a client may take to send its request or read the answer: a stuck client must not
#: hold a thread, nor the exporter's exit, for longer.
CLIENT_TIMEOUT = 5.0

_BRACKETED = re.compile(r"\[(?P<host>[^\]]+)\]:(?P<port>.*)")
_PORT = re.compile(r"[0-9]{1,5}")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` as (host, port). The host is never implied: listening
    beyond loopback (``0.0.0.0:PORT``) is allowed, but only when written out."""
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        host, port = bracketed["host"], bracketed["port"]
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            host = ""
    try:
        if not host or not _PORT.fullmatch(port) or int(port) > 65535:
            raise ValueError
        validate_address(host)
    except ValueError:
        raise UsageError(one_line(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9864 or [::1]:9864 "
                                  "(0.0.0.0:PORT to listen on every interface)")) from None
    return host, int(port)


class _Quiet(WSGIRequestHandler):
    """No line per request: a scrape every 15 s would fill a journal with nothing."""

    timeout = CLIENT_TIMEOUT

    def log_message(self, format, *args) -> None:
        return None


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    # Each scrape has a thread, joined when the server closes: a scrape in flight is answered.
    daemon_threads = False
    block_on_close = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the address up in DNS (socket.getfqdn) for a name nothing
        # here uses; on a jump box without a resolver that lookup can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away or stalled: nothing the operator can act on
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _routes(metrics: Callable) -> Callable:
    """``/metrics`` served, ``/`` says where they are, anything else is not found."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == METRICS_PATH:
            return metrics(environ, start_response)
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"poolterm exporter: metrics at /metrics\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: metrics are at /metrics\n"]

    return app


class MetricsServer:
    """An HTTP server for Prometheus, bound at once and serving once :meth:`start` is given
    where each scrape's snapshot comes from."""

    def __init__(self, host: str, port: int):
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
            server = _Server6 if family == socket.AF_INET6 else _Server
            self._httpd = server((host, port), _Quiet)
        except OSError as exc:
            raise UsageError(one_line(f"--listen {host}:{port}: {exc.strerror or exc}")) from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}{METRICS_PATH}"

    def start(self, take: Callable[[], Snapshot]) -> None:
        """Serve, from a thread of its own, a fresh ``take()`` at each scrape."""
        self._httpd.set_app(_routes(make_wsgi_app(registry(take))))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, answer the scrapes in flight, close the socket. Blocks: call it from a
        thread other than the one ``take`` needs."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
