"""tools/prerequisites.py: what make checks before it builds anything, and what it says when something is missing."""

from __future__ import annotations

from tools import prerequisites


def test_python_3_11_passes_and_another_version_is_refused_with_what_to_install():
    assert prerequisites.python_problem((3, 11), "/usr/bin/python3") is None
    problem = prerequisites.python_problem((3, 12), "/usr/bin/python3")
    assert "Python 3.11 is needed" in problem
    assert "/usr/bin/python3 is 3.12" in problem
    assert "apt-get install python3.11 python3.11-venv" in problem


def test_missing_postgres_binaries_are_named(monkeypatch):
    monkeypatch.setattr(prerequisites.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: "/usr/bin/postgres" if name == "postgres" else None)
    assert prerequisites.postgres_missing() == ["initdb", "pg_ctl"]


def test_without_root_a_missing_postgres_stops_with_the_command(monkeypatch, capsys):
    monkeypatch.setattr(prerequisites, "postgres_missing", lambda: ["initdb"])
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 1000)
    assert prerequisites.main() == 1
    assert "sudo apt-get install -y postgresql" in capsys.readouterr().err


def test_this_machine_has_what_the_project_needs():
    assert prerequisites.main([]) == 0
    assert prerequisites.main(["--for-tests"]) == 0


def test_without_root_missing_test_tools_stop_make_test_with_the_command(monkeypatch, capsys):
    monkeypatch.setattr(
        prerequisites.shutil, "which", lambda name: None if name == "redis-server" else f"/usr/bin/{name}"
    )
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 1000)
    assert prerequisites.main(["--for-tests"]) == 1
    err = capsys.readouterr().err
    assert "make test needs redis-server" in err
    assert "sudo apt-get install -y redis-server" in err
