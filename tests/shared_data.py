"""Where the third-party test data lives: ``../shared/data`` beside the checkout.

CI clones main with ``shared/`` beside it, as on a developer's machine; set
``EVENTPORT_SHARED_DATA`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(
    os.environ.get("EVENTPORT_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
