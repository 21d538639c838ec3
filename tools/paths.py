"""Where the project and its local state live: the checkout, ``.local/`` (git-ignored) and the venv's programs."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
LOGS = LOCAL / "logs"
VENV_BIN = Path(sys.executable).parent
