"""Rendered public feeds kept per worker, so polling them costs no rendering.

A feed of a 1,000-talk event takes a few hundred milliseconds to render (snapshot plus
exporter), while calendar apps poll it every minute or so. The cache makes every request
after the first one a dictionary look-up:

* an entry younger than ``max_age`` is served as it is;
* an older one is still served at once, and *one* background thread renders the feed
  again (stale-while-revalidate): no request waits for a render except the very first
  for an event (or after a change to the event row itself, which is part of the key);
* a conditional request (``If-None-Match`` / ``If-Modified-Since``) is answered from the
  entry's ETag and Last-Modified: a ``304`` never renders anything.

An entry older than ``max_stale`` (the background renders keep failing, say) is not
served any more: that request renders in the foreground, as on a cold start.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str  # strong: derived from the bytes
    last_modified: float  # epoch seconds when these bytes were first rendered here
    rendered_at: float  # monotonic clock of the render


def render_entry(body: bytes, previous: RenderedFeed | None) -> RenderedFeed:
    """Wrap fresh bytes; unchanged bytes keep the Last-Modified they already had."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    since = previous.last_modified if previous is not None and previous.etag == etag \
        else float(int(time.time()))
    return RenderedFeed(body, etag, since, time.monotonic())


class FeedCache:
    """At most ``entries`` rendered feeds, least recently used evicted first."""

    def __init__(self, max_age: float, max_stale: float, entries: int) -> None:
        self.max_age = max_age
        self.max_stale = max_stale
        self.entries = entries
        self._items: OrderedDict[Hashable, RenderedFeed] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, key: Hashable, render: Callable[[], bytes],
            render_aside: Callable[[], bytes]) -> RenderedFeed:
        """The feed for ``key``: ``render`` runs here on a miss, ``render_aside`` in a
        background thread when the entry is past ``max_age`` (it must open its own
        database session: the request's is gone by then)."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit.rendered_at < self.max_stale:
                self._items.move_to_end(key)
                if now - hit.rendered_at >= self.max_age and key not in self._refreshing:
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, render_aside),
                                     name="feed-refresh", daemon=True).start()
                return hit
        return self._store(key, render_entry(render(), hit))

    def _refresh(self, key: Hashable, render: Callable[[], bytes]) -> None:
        try:
            with self._lock:
                previous = self._items.get(key)
            self._store(key, render_entry(render(), previous), refresh=True)
        except Exception:  # the stale entry stays; the next request past max_age retries
            log.warning("feed %r: background render failed", key, exc_info=True)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _store(self, key: Hashable, entry: RenderedFeed, refresh: bool = False
               ) -> RenderedFeed:
        """Keep ``entry``. A background refresh is not a use: it keeps the entry's place
        in the eviction order, and keeps nothing for a key evicted meanwhile (it would
        push out a feed used since, for one nobody asked for lately)."""
        with self._lock:
            if refresh and key not in self._items:
                return entry
            self._items[key] = entry
            if not refresh:
                self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return entry
