"""The local S3 server: ``rclone serve s3`` over rclone's in-memory backend, on 127.0.0.1 only.

Objects live in its RAM, as on an emulator (``make down`` drops them); each bucket is a top-level directory; ETags
are the objects' MD5s, kept with them. It checks requests' SigV4 signatures against one key pair, given to it in
the environment (``RCLONE_AUTH_KEY``), never in argv.
"""

from __future__ import annotations

import os
import subprocess

from tools.paths import LOCAL, LOGS, VENV_BIN
from tools.processes import pid_alive, port_open, read_pid, require_free_port, stop_pidfile, wait_port, wait_port_free

PORT = int(os.environ.get("SPARKIFY_S3_PORT", "25433"))  # below the ephemeral port range (tools.processes)
ENDPOINT = f"http://127.0.0.1:{PORT}"
# AWS-shaped ([A-Za-z0-9/+=]), as a Redshift COPY's credentials must be.
ACCESS_KEY_ID = "SPARKIFYLOCAL"
SECRET_ACCESS_KEY = "localdevonly"
PIDFILE = LOCAL / "s3.pid"


def command() -> list[str]:
    return [str(VENV_BIN / "rclone"), "serve", "s3", ":memory:", "--addr", f"127.0.0.1:{PORT}", "--log-level", "NOTICE"]


def version() -> str:
    """e.g. ``rclone v1.75.2``."""
    out = subprocess.run([str(VENV_BIN / "rclone"), "version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].strip()


def _runs_command(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).cmdline() == command()
    except psutil.Error:
        return False


def running() -> bool:
    pid = read_pid(PIDFILE)
    return bool(pid and pid_alive(pid) and port_open(PORT))


def up() -> None:
    pid = read_pid(PIDFILE)
    if pid and pid_alive(pid) and port_open(PORT) and _runs_command(pid):
        print(f"S3 server already running (pid {pid}) on 127.0.0.1:{PORT}")
        return
    if pid and pid_alive(pid):  # another port or another server (an earlier checkout's moto): restart it
        down()
    require_free_port(PORT, "the S3 server", "SPARKIFY_S3_PORT")
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "s3.log", "ab") as out:
        proc = subprocess.Popen(
            command(),
            # RCLONE_AUTH_KEY is CSV (the flag repeats): one quoted "id,secret" pair. No config file is read.
            env={**os.environ, "RCLONE_AUTH_KEY": f'"{ACCESS_KEY_ID},{SECRET_ACCESS_KEY}"', "RCLONE_CONFIG": ""},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    PIDFILE.write_text(f"{proc.pid}\n")
    wait_port(PORT, "the S3 server")
    print(f"S3 server (rclone serve s3) started on 127.0.0.1:{PORT} (pid {proc.pid})")


def down() -> None:
    if stop_pidfile(PIDFILE, "S3 server", group=True):
        wait_port_free(PORT, "the S3 server")
    else:
        print("S3 server not running")
