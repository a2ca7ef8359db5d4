"""``eventport worker`` whose local storage reads media slowly, like a distant object store.

The demo event's media are a few hundred kilobytes on a local disk: a real export of
them finishes before a browser could see a progress bar move or a page reload mid-way.
Running the unmodified worker with each media chunk delayed (``EVENTPORT_TEST_MEDIA_DELAY``
seconds) gives the browser tests an export that honestly takes a few seconds, through the
same Celery task, exporter, archive writer and storage writes as production.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

from eventport.storage.local import LocalStorage

DELAY = float(os.environ.get("EVENTPORT_TEST_MEDIA_DELAY", "0"))
_original_open = LocalStorage.open


def _slow_open(self: LocalStorage, key: str, *, start: int = 0, end: int | None = None
               ) -> Iterator[bytes]:
    chunks = _original_open(self, key, start=start, end=end)  # raises now if missing
    if "/media/" not in key or DELAY <= 0:
        return chunks

    def delayed() -> Iterator[bytes]:
        for chunk in chunks:
            time.sleep(DELAY)
            yield chunk

    return delayed()


LocalStorage.open = _slow_open  # type: ignore[method-assign]

if __name__ == "__main__":
    from eventport.cli import main

    sys.argv = ["eventport", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
    main()
