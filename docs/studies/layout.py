"""Where the studies write: their rows beside them in ``docs/studies/data/``, the images and pages
the documentation shows in ``docs/``."""
from __future__ import annotations

from pathlib import Path

STUDIES = Path(__file__).resolve().parent
DATA = STUDIES / "data"
DOCS = STUDIES.parent
