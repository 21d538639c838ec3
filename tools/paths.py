"""Where the project and its local state live: the checkout, ``.local/`` (git-ignored) and the venv's programs."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
VENV_BIN = Path(sys.executable).parent
PLUGINS = ROOT / "plugins"


def plugins_on_path() -> None:
    """Import the project's ``sparkify`` package as Airflow does: its plugins folder on ``sys.path``."""
    if str(PLUGINS) not in sys.path:
        sys.path.insert(0, str(PLUGINS))
