"""What the I/O shell needs from a byte stream, and the one place foreign errors are mapped.

Timeouts are explicit arguments in seconds (``None`` waits forever). ``read`` returns ``b""`` at
end of stream and raises :class:`etcdwire.errors.DeadlineExceeded` when the timeout passes with
nothing read; nothing is lost when that happens.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ConnectFailed, ConnectionLost, DeadlineExceeded, EtcdError, UsageError

__all__ = ["Address", "TLSConfig", "map_connect_errors", "map_io_errors", "parse_address"]


@dataclass(frozen=True, slots=True)
class Address:
    """Where to connect: TCP host and port, or a Unix socket path; with or without TLS."""

    host: str
    port: int
    tls: bool = False
    unix_path: str | None = None

    @property
    def authority(self) -> str:
        if self.unix_path is not None:
            return "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.unix_path is not None:
            return ("unixs://" if self.tls else "unix://") + self.unix_path
        return ("https://" if self.tls else "http://") + self.authority


def parse_address(text: str, *, default_tls: bool = False) -> Address:
    """Parse ``host:port``, ``http://``, ``https://``, ``unix://`` or ``unixs://`` endpoints."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty endpoint")
    tls = default_tls
    for prefix, is_tls in (("unixs://", True), ("unix://", False)):
        if raw.startswith(prefix):
            path = raw[len(prefix) :]
            if not path:
                raise UsageError(f"endpoint {text!r} has no socket path")
            return Address("localhost", 0, is_tls, path)
    scheme = ""
    if raw.startswith("https://"):
        scheme, tls, raw = "https://", True, raw[len("https://") :]
    elif raw.startswith("http://"):
        scheme, tls, raw = "http://", False, raw[len("http://") :]
    elif "://" in raw:
        raise UsageError(f"endpoint {text!r}: unsupported scheme")
    raw = raw.rstrip("/")
    if "@" in raw:
        # user:password@host: refused without echoing it, so the password stays out of logs
        raise UsageError(
            f"endpoint {scheme}<credentials>@{raw.rpartition('@')[2]}: credentials do not "
            "belong in an endpoint; pass username= and password="
        )
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = raw.rpartition(":")
        if not host:
            host, port_text = port_text, ""
    if not port_text:
        port = 2379
    else:
        try:
            port = int(port_text)
        except ValueError:
            raise UsageError(f"endpoint {text!r}: port is not a number") from None
    if not host or not 0 < port < 65536:
        raise UsageError(f"endpoint {text!r}: bad host or port")
    return Address(host, port, tls)


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """TLS settings for https endpoints. Verification is on unless ``insecure_skip_verify``."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_hostname: str | None = None
    insecure_skip_verify: bool = False
    keylog_file: str | None = None

    def make_context(self) -> ssl.SSLContext:
        with map_connect_errors(None, "TLS configuration"):
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
            if self.insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file, self.key_file)
            ctx.set_alpn_protocols(["h2"])
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.keylog_file:
                ctx.keylog_filename = self.keylog_file
        return ctx


@contextlib.contextmanager
def map_connect_errors(endpoint: str | None, what: str) -> Iterator[None]:
    """Turn OS/TLS errors during connection set-up into ConnectFailed (or DeadlineExceeded)."""
    try:
        yield
    except EtcdError:
        raise
    except TimeoutError as exc:
        raise DeadlineExceeded(f"{what} timed out", endpoint=endpoint) from exc
    except ssl.SSLError as exc:
        raise ConnectFailed(f"{what} failed: TLS error: {exc}", endpoint=endpoint) from exc
    except (OSError, ValueError) as exc:
        raise ConnectFailed(f"{what} failed: {exc}", endpoint=endpoint) from exc


@contextlib.contextmanager
def map_io_errors(endpoint: str | None) -> Iterator[None]:
    """Turn OS/TLS errors on an established connection into ConnectionLost."""
    try:
        yield
    except EtcdError:
        raise
    except TimeoutError as exc:
        raise DeadlineExceeded("socket operation timed out", endpoint=endpoint) from exc
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConnectionLost(f"connection lost: {exc}", endpoint=endpoint) from exc
