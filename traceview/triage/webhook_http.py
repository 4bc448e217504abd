"""Where a webhook may connect, and the one request it makes there.

A webhook URL is typed by any project member, so without a check the worker would post wherever
it points: to 127.0.0.1, to the cloud's metadata service, to anything on the private network, and
the page would report what answered (a port scanner). So:

- the host is resolved and every address it resolves to must be public: not loopback, private,
  link-local (which holds 169.254.169.254, the metadata service), shared, multicast, reserved or
  unspecified, also when written as an IPv4-mapped IPv6 address. Networks listed in
  TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS (CIDRs) are allowed anyway, for a receiver inside your own
  network;
- this is checked when the URL is saved and again at each delivery, and the delivery connects to
  the very address that was checked (the Host header and the TLS certificate still name the
  host), so a name that resolves to a public address for the check and to a private one for the
  connection (DNS rebinding) gets nowhere. Redirects are not followed;
- what went wrong is told in our words ("could not connect", "HTTP 500"), never in the
  receiver's or the network stack's.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings


class TargetRefused(ValueError):
    """The URL may not be used; the message is safe to show."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False)
            for n in settings.TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return True
    return ip.is_global and not ip.is_multicast


def _split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("the URL must be http or https with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("the URL's port is not a number from 1 to 65535") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


REFUSED = ("the address is not public (loopback, private, link-local or metadata); "
           "an administrator can allow a network with TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS")


def target_check(url: str) -> None:
    """For saving: refuse a URL whose host resolves to any address that is not allowed. A name
    that does not resolve now is accepted (DNS may be down); each delivery checks again."""
    _, host, port, _ = _split(url)
    if any(not address_allowed(a) for a in _addresses(host, port)):
        raise TargetRefused(REFUSED)


def target_resolve(url: str) -> Target:
    """For delivering: the addresses to connect to, checked. Every address the name resolves to
    must be allowed, so that which one answers cannot matter."""
    scheme, host, port, path = _split(url)
    addresses = _addresses(host, port)
    if not addresses:
        raise TargetRefused("the host name does not resolve")
    if any(not address_allowed(a) for a in addresses):
        raise TargetRefused(REFUSED)
    return Target(scheme, host, port, path, tuple(addresses))


def _connect(target: Target, timeout: float) -> socket.socket:
    """A socket to the first of the checked addresses that accepts, as create_connection does
    for a name, but never resolving the name again."""
    error: OSError = OSError("no address")
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked addresses, verifying the certificate for the URL's host name."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._target = target

    def connect(self):
        sock = _connect(self._target, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def connect(self):
        self.sock = _connect(self._target, self.timeout)


def webhook_post(url: str, body: bytes, headers: dict[str, str],
                 timeout: float) -> tuple[int | None, str]:
    """POST once to a checked address: (status or None, an error of our own wording or "")."""
    try:
        target = target_resolve(url)
    except TargetRefused as exc:
        return None, f"refused: {exc}"
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        status = connection.getresponse().status
    except TimeoutError:
        return None, "timed out"
    except ssl.SSLError:
        return None, "the TLS handshake failed"
    except (OSError, http.client.HTTPException):
        return None, "could not connect, or the connection broke"
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, ""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return status, f"HTTP {status} {phrase}".strip()
