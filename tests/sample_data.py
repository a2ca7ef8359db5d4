"""Where the third-party test data lives: ``tests/data`` inside the repository.

Every file there is a verbatim copy of real data other systems produced, with its source,
commit and licence in ``tests/data/README.md``. A bare clone holds everything a test reads.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
