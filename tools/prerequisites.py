"""What the project needs from the machine, checked before anything is built: ``make`` runs this first.

Python 3.11 exactly (``requirements.lock`` is resolved for it) and PostgreSQL's server binaries (the embedded
warehouse and Airflow's metadata DB). As root on a Debian-like system a missing PostgreSQL is installed from the
distribution; otherwise this stops at once with the command to run. ``--for-tests``: what ``make test`` needs
besides (chromium, redis-server), the same way. Standard library only: it runs under whatever
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
TEST_TOOLS = {"chromium": "chromium", "redis-server": "redis-server"}  # Debian package → the command it provides


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


def apt_install(packages: list[str]) -> bool:
    """``apt-get install`` when this is root on a system with apt-get; whether it ran and worked."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print(f"installing with apt-get: {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *packages]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        return subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0
    return True


def test_tools_missing() -> list[str]:
    """The Debian packages ``make test`` needs beyond the project's: a browser and a Redis server."""
    return [package for package, command in TEST_TOOLS.items() if shutil.which(command) is None]


def main(argv: list[str] | None = None) -> int:
    if "--for-tests" in (sys.argv[1:] if argv is None else argv):
        missing = test_tools_missing()
        if missing and not (apt_install(missing) and not test_tools_missing()):
            print(
                f"make test needs {' and '.join(missing)} (the web-UI tests drive chromium; the CeleryExecutor test "
                f"starts redis-server).\n  Debian/Ubuntu: sudo apt-get install -y {' '.join(missing)}\n"
                "  elsewhere: install them so that `chromium` and `redis-server` are on PATH, then run make test again",
                file=sys.stderr,
            )
            return 1
        return 0
    problem = python_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    missing = postgres_missing()
    if missing and not (apt_install(["postgresql"]) and not postgres_missing()):
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
