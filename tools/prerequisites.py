"""What the project needs from the machine, checked before anything is built: ``make`` runs this first.

Python 3.11 exactly (``requirements.lock`` is resolved for it) and PostgreSQL's server binaries (the embedded
warehouse and Airflow's metadata DB). As root on a Debian-like system a missing PostgreSQL is installed from the
distribution; otherwise this stops at once with the command to run. Standard library only: it runs under whatever
``python3`` the machine has, before the virtualenv exists.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

PYTHON = (3, 11)
POSTGRES_BINARIES = ("initdb", "pg_ctl", "postgres")


def python_problem(version: tuple = tuple(sys.version_info[:2]), executable: str = sys.executable) -> str | None:
    if tuple(version[:2]) == PYTHON:
        return None
    found = ".".join(str(v) for v in version[:2])
    return (
        f"Python {PYTHON[0]}.{PYTHON[1]} is needed (requirements.lock is resolved for it); {executable} is {found}.\n"
        "  Debian 12: apt-get install python3.11 python3.11-venv\n"
        "  elsewhere: pyenv install 3.11 && pyenv local 3.11 (or any python3.11 on PATH), then run make again"
    )


def postgres_missing() -> list[str]:
    def found(name: str) -> bool:
        return bool(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or shutil.which(name) is not None

    return [name for name in POSTGRES_BINARIES if not found(name)]


def install_postgres() -> bool:
    """``apt-get install postgresql`` when this is root on a system with apt-get; whether it ran and worked."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("PostgreSQL's server binaries are missing: installing them with apt-get (postgresql)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "postgresql"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return False
    return not postgres_missing()


def main() -> int:
    problem = python_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    missing = postgres_missing()
    if missing and not install_postgres():
        print(
            f"PostgreSQL's server binaries are missing ({', '.join(missing)}; looked in /usr/lib/postgresql/*/bin "
            "and PATH).\n  Debian/Ubuntu: sudo apt-get install -y postgresql\n"
            "  elsewhere: install PostgreSQL 15 or newer with its server binaries, then run make again",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
