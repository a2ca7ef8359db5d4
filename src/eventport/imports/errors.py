"""Why an import was refused, in words the person who uploaded the file can act on.

:class:`ImportRefused` is an :class:`~eventport.errors.InvalidInput` (422), so the API,
the CLI and the job's ``error`` all carry the same sentence, e.g. ``"sessions.json entry
17: track 4 does not exist"``. Readers raise it for anything wrong with the *file*;
storage and database trouble stays a different error so it is never blamed on the user.
"""

from __future__ import annotations

from eventport.errors import InvalidInput


class ImportRefused(InvalidInput):
    """The uploaded file cannot be imported; ``detail`` says what and where."""

    title = "Import refused"
