"""The exporter registry: one small class per format (pretalx's lesson).

Jobs, the API, the CLI and the web page list and run formats through this registry
without knowing any of them. A format is one module in :mod:`eventport.exports.formats`
holding one :class:`Exporter` subclass decorated with :func:`register`, plus its name in
:data:`FORMAT_MODULES`.

Exporters are pure: a snapshot and a context in, bytes out. The context carries the
only outside capabilities an exporter gets — reading a media object's bytes, reporting
progress and warnings — so exporters stay testable without a database or network.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

from eventport.exports.snapshot import EventSnapshot
from eventport.job_lifecycle import JobStopped

FORMAT_MODULES = ("archive", "ical", "xcal", "pentabarf", "frab_json", "csv")


#: Raised from inside an export when the job must stop (cancelled, or taken over by
#: another worker); nothing is published. The exporters' name for the lifecycle's signal.
ExportCancelled = JobStopped


def _no_media(key: str) -> Iterator[bytes]:
    raise LookupError(f"no media reader configured (asked for {key})")


@dataclass
class ExportContext:
    options: dict[str, Any] = field(default_factory=dict)
    #: storage key -> its bytes as a stream of chunks
    open_media: Callable[[str], Iterator[bytes]] = _no_media
    #: whether a media object exists (False only for "not found"; outages raise)
    media_exists: Callable[[str], bool] = lambda key: True
    #: existence checks in flight: several where each is a round trip (object stores)
    lookup_threads: int = 1
    #: records something skipped; the job lists it in ``warnings``
    warn: Callable[[dict[str, Any]], None] = lambda warning: None
    #: (stage, done, total); cheap to call often, the job throttles writes
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None
    #: raises ExportCancelled when the job was cancelled
    check_cancelled: Callable[[], None] = lambda: None
    #: public feed: leave out private fields (e-mail, phone, comments) and unaccepted sessions
    public_only: bool = False


class Exporter:
    identifier: ClassVar[str]
    verbose_name: ClassVar[str]
    extension: ClassVar[str]
    content_type: ClassVar[str]
    #: may be served as an unauthenticated feed for published events
    public: ClassVar[bool] = False
    #: takes the ``media`` option (image/document/audio/video)
    accepts_media: ClassVar[bool] = False
    #: the options a job of this format may carry
    option_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def normalize_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The canonical form of ``options`` (``ValueError`` for a bad value).

        Called when a job is requested, so a bad option is refused then, not when the
        worker runs; equal requests get equal options (job dedupe, archive determinism).
        """
        return {}

    def write(self, snapshot: EventSnapshot, out: BinaryIO, ctx: ExportContext) -> None:
        """Stream the export into ``out``; the default renders in memory (small formats)."""
        out.write(self.render(snapshot, ctx))

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "identifier": cls.identifier,
            "name": cls.verbose_name,
            "extension": cls.extension,
            "content_type": cls.content_type,
            "public": cls.public,
            "accepts_media": cls.accepts_media,
            "options": sorted(cls.option_names),
        }


_EXPORTERS: dict[str, type[Exporter]] = {}
_loaded = False


def register(cls: type[Exporter]) -> type[Exporter]:
    _EXPORTERS[cls.identifier] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in FORMAT_MODULES:
            importlib.import_module(f"eventport.exports.formats.{name}")
        _loaded = True


def exporters() -> dict[str, type[Exporter]]:
    """Every registered format, in the order of :data:`FORMAT_MODULES`."""
    _load()
    return dict(_EXPORTERS)


def get_exporter(identifier: str) -> type[Exporter]:
    _load()
    try:
        return _EXPORTERS[identifier]
    except KeyError:
        raise LookupError(
            f"unknown export format {identifier!r}; known: {', '.join(_EXPORTERS)}"
        ) from None
