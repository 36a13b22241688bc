"""The test suite's network block: a connection or a name lookup beyond loopback raises NetworkBlocked.

Installed in the pytest process by tests/conftest.py and in every Python subprocess the tests start through
sitecustomize.py beside this file (conftest puts this folder first on PYTHONPATH). Each blocked attempt is
also appended to the file named by STORYMODE_NETBLOCK_LOG, so a test fails even when the code under test
catches the error (conftest checks the log after every test).
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket

LOG_VARIABLE = "STORYMODE_NETBLOCK_LOG"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_INET = (socket.AF_INET, socket.AF_INET6)


class NetworkBlocked(PermissionError):
    """A connection or lookup beyond loopback, refused by the test suite's network block."""

    def __init__(self, host: object, what: str) -> None:
        super().__init__(errno.EACCES, f"the storymode test suite blocks the network: {what} {host!r} "
                                       f"(only loopback, localhost and unix sockets are allowed)")
        self.host = host


def is_local_host(host: object) -> bool:
    """Whether host names this machine through loopback: 127.0.0.0/8, ::1, 0.0.0.0, :: or localhost."""
    if host is None:
        return True  # a passive lookup (bind to any interface), not a destination
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip().lower().rstrip(".")
    if text in LOOPBACK_NAMES or text.endswith(".localhost") or text == "":
        return True
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or ip.is_unspecified or bool(mapped and mapped.is_loopback)


def _is_numeric(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(host: object, what: str) -> NetworkBlocked:
    error = NetworkBlocked(host, what)
    attempts.append(str(error))
    log = os.environ.get(LOG_VARIABLE)
    if log:
        try:  # one short line with O_APPEND: whole lines even from several processes
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"pid {os.getpid()}: {error.strerror}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            pass
    return error


attempts: list[str] = []  # blocked attempts made in this process


def _check_address(sock: socket.socket, address: object, what: str) -> None:
    if sock.family in _INET and isinstance(address, tuple) and address and not is_local_host(address[0]):
        raise _refuse(address[0], what)


def install() -> None:
    """Patch the socket module of this process (once) so that only loopback and unix sockets connect."""
    if getattr(socket, "_storymode_netblock", False):
        return
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    getaddrinfo = socket.getaddrinfo
    own_name = socket.gethostname().lower()

    def guarded_connect(self: socket.socket, address: object) -> None:
        _check_address(self, address, "connect to")
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        _check_address(self, address, "connect to")
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: bytes, *args: object) -> int:
        _check_address(self, args[-1] if args else None, "send to")
        return sendto(self, data, *args)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if not (is_local_host(name) or _is_numeric(name) or str(name).lower() == own_name):
            raise _refuse(name, "look up")
        return getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    socket._storymode_netblock = True  # type: ignore[attr-defined]


def take() -> list[str]:
    """Every blocked attempt since the last take(): this process's and, from the log, its subprocesses'."""
    seen = list(attempts)
    attempts.clear()
    log = os.environ.get(LOG_VARIABLE)
    if log and os.path.exists(log):
        with open(log, "r+", encoding="utf-8") as f:
            others = [line.strip() for line in f if not line.startswith(f"pid {os.getpid()}:")]
            f.seek(0)
            f.truncate()
        seen += others
    return seen
