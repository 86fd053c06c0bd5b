"""Pure: a network endpoint as config.yaml writes it (`127.0.0.1:9000`, `[::1]:9000`).

Kept apart from routing.osc (sockets, asyncio) so validating config.yaml stays pure."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from routing.format.invalid import Invalid


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @property
    def text(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


def parse_endpoint(text: str) -> Endpoint:
    """'127.0.0.1:9000', 'localhost:9000', '[::1]:9000' → Endpoint, or ValueError (with the
    fix after ' — ')."""
    host, sep, port = text.strip().rpartition(":")
    example = "write `host:port` with an IP address, e.g. `127.0.0.1:9000` or `[::1]:9000`"
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise Invalid(f"'{text}' is not host:port", example)
    host = host.strip("[]")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise Invalid(f"'{host}' is not an IP address", example) from None
    return Endpoint(host, int(port))
