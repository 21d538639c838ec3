"""Background processes of the local stacks: PID files, process groups, ports and waits.

Every server here listens on 127.0.0.1, is started in the background with a PID file and stopped by it. Default
ports lie below Linux's ephemeral port range (``net.ipv4.ip_local_port_range``): a port inside it can be held for a
moment by any outgoing connection of the stack's many processes, and a server started just then cannot bind it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from tools.paths import LOGS


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, what: str, timeout: float = 30) -> None:
    """Wait until something listens on ``127.0.0.1:port``; exit naming ``what`` if nothing does in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    sys.exit(f"{what} did not open 127.0.0.1:{port} within {timeout:.0f} s (see {LOGS})")


def wait_port_free(port: int, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if port_open(port):
        print(f"warning: 127.0.0.1:{port} is still bound after stopping {what}", file=sys.stderr)


def ephemeral_port_range() -> tuple[int, int]:
    """Linux's range for outgoing connections' local ports (other systems: the IANA range)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


def port_holders(port: int) -> str:
    """Who holds a local TCP port, e.g. ``pid 812 (rclone) listening``, for error messages."""
    import psutil

    def name(pid: int | None) -> str:
        try:
            return f"pid {pid} ({psutil.Process(pid).name()})" if pid else "a process of another user"
        except psutil.Error:
            return f"pid {pid}"

    try:
        held = [c for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port == port]
    except psutil.Error as exc:
        return f"unknown ({exc})"
    listeners = [f"{name(c.pid)} listening" for c in held if c.status == psutil.CONN_LISTEN]
    if listeners:  # the other sockets on the port are its accepted connections
        return "; ".join(dict.fromkeys(listeners))
    outgoing = [f"{name(c.pid)}, {c.status.lower()} to {c.raddr.ip}:{c.raddr.port}" for c in held if c.raddr]
    if outgoing:
        return "an outgoing connection using it as its local port: " + "; ".join(dict.fromkeys(outgoing[:3]))
    return "no process found (it may be free again in a moment)"


def require_free_port(port: int, what: str, setting: str, host: str = "127.0.0.1") -> None:
    """Exit at once, naming the port and its holder, if ``what`` could not bind ``host:port`` now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT does not block them
        try:
            s.bind((host, port))
        except OSError as exc:
            sys.exit(
                f"{what} cannot listen on {host}:{port} ({exc.strerror}): held by {port_holders(port)}. "
                f"Stop that process or choose another port with {setting}=…"
            )
    low, high = ephemeral_port_range()
    if low <= port <= high:
        print(
            f"warning: port {port} ({what}) lies in the ephemeral port range {low}–{high}: an outgoing "
            f"connection may take it at any moment; prefer a port below {low} ({setting})",
            file=sys.stderr,
        )


def read_from(path: Path, offset: int) -> str:
    """The text of a log from byte ``offset`` on (what one start wrote); "" if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so an exited child does not look alive as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    reap(pgid)  # a leader we started and that exited is a zombie until reaped: it would look alive
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def wait_gone(pid: int, what: str, timeout: float = 20) -> None:
    """Wait for ``pid`` to exit; KILL it after ``timeout``."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        print(f"{what} (pid {pid}) did not stop in {timeout:.0f} s: killed")


def wait_groups_gone(pgids: Iterable[int], timeout: float) -> None:
    pgids = list(pgids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(group_alive(p) for p in pgids):
        time.sleep(0.2)


def stop_pidfile(pidfile: Path, what: str, *, group: bool = False) -> bool:
    """Stop the process (or, with ``group``, the process group) a PID file names — TERM, then KILL after 20 s —
    and remove the file; return whether it was running."""
    pid = read_pid(pidfile)
    running = bool(pid and pid_alive(pid))
    if running:
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if group else os.kill)(pid, signal.SIGTERM)
        wait_gone(pid, what)
        print(f"{what} stopped")
    pidfile.unlink(missing_ok=True)
    return running


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to a file only its owner can read — mode 0600 from its creation, whatever the umask, so a
    secret is never readable by others, not even for a moment. An existing file is rewritten and made 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        f.write(text)
    return path
