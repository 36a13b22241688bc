"""The suite's network block: beyond loopback nothing connects, here or in a subprocess; loopback still works."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

FAR = ("10.255.255.1", 9)  # a routable private address that answers nothing: without the block, a hang


def _loopback_server() -> tuple[socket.socket, threading.Thread]:
    """A TCP server on 127.0.0.1 that says hello to one client."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_in_process_far_addresses_and_names_are_refused(no_network) -> None:
    with socket.socket() as s:
        s.settimeout(5)
        with pytest.raises(no_network.NetworkBlocked, match=r"blocks the network: connect to '10\.255\.255\.1'"):
            s.connect(FAR)
        with pytest.raises(no_network.NetworkBlocked, match="10.255.255.1"):
            s.connect_ex(FAR)
    with pytest.raises(no_network.NetworkBlocked, match="look up 'example.com'"):
        socket.create_connection(("example.com", 80), timeout=5)
    with socket.socket(socket.AF_INET6) as s6, pytest.raises(no_network.NetworkBlocked, match="2001:db8::1"):
        s6.connect(("2001:db8::1", 9))
    with socket.socket(type=socket.SOCK_DGRAM) as udp, pytest.raises(no_network.NetworkBlocked, match="8.8.8.8"):
        udp.sendto(b"x", ("8.8.8.8", 53))
    assert len(no_network.take()) == 5  # each attempt is recorded, so a caught error still fails a test


def test_in_process_loopback_still_works(no_network) -> None:
    server, thread = _loopback_server()
    with server, socket.create_connection(("localhost", server.getsockname()[1]), timeout=10) as client:
        assert client.recv(5) == b"hello"
    thread.join(10)
    assert no_network.take() == []


def test_a_python_subprocess_is_blocked_too(no_network) -> None:
    code = ("import socket\ns = socket.socket()\ns.settimeout(5)\n"
            f"s.connect({FAR!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "NetworkBlocked" in proc.stderr and "blocks the network: connect to '10.255.255.1'" in proc.stderr
    attempts = no_network.take()  # the subprocess logged it for this test's check
    assert len(attempts) == 1 and "10.255.255.1" in attempts[0]
    assert attempts[0].startswith("pid ") and not attempts[0].startswith(f"pid {os.getpid()}:")


def test_a_python_subprocess_reaches_loopback(no_network) -> None:
    server, thread = _loopback_server()
    code = ("import socket\n"
            f"with socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=10) as c:\n"
            "    print(c.recv(5).decode())\n")
    with server:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    thread.join(10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello"
    assert no_network.take() == []
