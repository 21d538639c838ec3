"""tools.stack's port checks: a busy port fails at once and names who holds it."""

from __future__ import annotations

import os
import socket

import pytest

from tools import stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_listening_port_names_its_process():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"the api-server cannot listen on 127.0.0.1:{port} .*pid {os.getpid()} "
                                             r"\(.*\) listening.*SPARKIFY_AIRFLOW_PORT"):  # fmt: skip
            stack.require_free_port(port, "the api-server", "SPARKIFY_AIRFLOW_PORT")


def test_a_port_taken_by_an_outgoing_connection_says_so():
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.bind(("127.0.0.1", 0))  # what the kernel does for any outgoing connection, from its ephemeral range
        client.connect(server.getsockname())
        port = client.getsockname()[1]
        with pytest.raises(SystemExit, match=rf"outgoing connection using it as its local port: pid {os.getpid()}"):
            stack.require_free_port(port, "postgres", "SPARKIFY_PG_PORT")


def test_a_free_port_passes_and_the_defaults_lie_below_the_ephemeral_range():
    stack.require_free_port(free_port(), "x", "X")
    if any(k.startswith("SPARKIFY_") and k.endswith("_PORT") for k in os.environ):
        pytest.skip("ports chosen through SPARKIFY_*_PORT")
    low, _ = stack.ephemeral_port_range()
    from tools.airflow_stack import AirflowStack

    assert max(stack.PG_PORT, stack.S3_PORT, *AirflowStack().ports.values()) < low
