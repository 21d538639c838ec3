"""tools.progress: a live line on a terminal only, nested work under one display, nothing left behind."""

from __future__ import annotations

from tools import progress


def test_nothing_is_drawn_when_output_is_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("SPARKIFY_PROGRESS", raising=False)  # pytest's stderr is not a terminal
    with progress.progress("seeding", 3, "objects") as advance, progress.waiting("waiting") as status:
        advance()
        status("the api-server")
        print("a result")
    assert capsys.readouterr() == ("a result\n", "")


def test_on_a_terminal_nested_work_shares_one_display_and_prints_stay_on_stdout(monkeypatch, capsys):
    monkeypatch.setenv("SPARKIFY_PROGRESS", "1")  # as on a terminal
    with progress.progress("make bench", 2, "phases") as phase_done:
        with progress.progress("seeding s3://bucket", 4, "objects") as advance:
            for _ in range(4):
                advance()
        with progress.waiting("starting Airflow") as status:
            status("waiting for the api-server")
        print("--- 1× the course volume")
        phase_done()
    out, err = capsys.readouterr()
    assert out == "--- 1× the course volume\n"  # not redirected: stdout is not a terminal here
    for line in ("make bench", "seeding s3://bucket", "starting Airflow"):
        assert line in err
    assert progress._shown is None  # the display is gone with the outermost work


def test_progress_can_be_turned_off_on_a_terminal(monkeypatch):
    monkeypatch.setenv("SPARKIFY_PROGRESS", "0")
    assert not progress.enabled()
