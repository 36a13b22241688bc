"""Who the service answers: loopback only without a token, a strong token beyond loopback."""
from __future__ import annotations

import ipaddress
import re

from ..errors import UsageError

MIN_TOKEN = 16  # characters of a token when the service listens beyond loopback
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # the Host names a service without a token answers
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::\d{1,5})?")


def loopback_host_header(value: str) -> bool:
    """Whether a Host header names localhost, 127.0.0.1 or [::1], with or without a port."""
    m = _HOST.fullmatch(value.strip().lower())
    return bool(m) and m.group(1) in LOOPBACK_NAMES


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_token(host: str, token: str | None) -> None:
    """Beyond loopback, refuse to start without a strong token (UsageError, exit code 2)."""
    if is_loopback(host):
        return
    if not token:
        raise UsageError(f"--host {host} is reachable from other machines: set a token with STORYMODE_TOKEN "
                         "(or --token) so every request must carry it, or listen on 127.0.0.1")
    if len(token) < MIN_TOKEN:
        raise UsageError(f"--host {host} is reachable from other machines: the token is {len(token)} characters, "
                         f"too weak; use at least {MIN_TOKEN} (make one with: python -c \"import secrets; "
                         "print(secrets.token_urlsafe(32))\"), or listen on 127.0.0.1")
