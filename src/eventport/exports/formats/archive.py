"""The ``archive`` format: an event's complete data and media as one zip (docs/DESIGN.md).

Layout, in the order it is written (stable, so the bytes are deterministic)::

    event.json, sessions.json, speakers.json, … (the API's GET shapes, uuids for ids)
    schedule/schedule.xml, schedule/schedule.json, schedule/event.ics, schedule/event.xcs
    media/<kind>/<owner>/<uuid>.<ext>             (streamed from storage)
    manifest.json                                 (last: sizes + SHA-256 of all the above)

The layout itself (names, order, version, the portable form of documents) lives in
:mod:`eventport.events.archive_layout`, shared with the reader.

The schedule files come from the other registered exporters, so the archive always
carries exactly what the feeds serve. Media the options leave out are set to ``null`` in
the documents, so every path a document names is in the archive. Media that storage
reports *not found* are left out the same way (references ``null``), named in
``warnings`` and in the manifest's ``missing`` list, and the export still succeeds (one
lost photo must not cost a 2 GB export). Any other read error — an outage the context's
reader could not ride out — ends the export: a succeeded archive never holds a partial
file or a reference to one it lacks.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from eventport.events.archive_layout import (
    DOCUMENT_ORDER,
    FORMAT_NAME,
    MEDIA_KINDS,
    SCHEDULE_FILES,
    VERSION,
    portable_documents,
)
from eventport.exports import privacy
from eventport.exports.encryption import parse_recipients
from eventport.exports.registry import (
    ExportCancelled,
    ExportContext,
    Exporter,
    get_exporter,
    register,
)
from eventport.exports.snapshot import EventSnapshot, MediaEntry
from eventport.exports.zipwriter import ArchiveWriter, canonical_json

#: Check for cancellation (and report progress) at least this often while copying media.
_CHECK_EVERY_BYTES = 8 * 1024 * 1024


def _drop_excluded_media(
    snapshot: EventSnapshot, excluded: set[str]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Portable documents with left-out media set to ``None`` (copies; the snapshot stays)."""
    event, documents = portable_documents(copy.deepcopy(snapshot.event),
                                          copy.deepcopy(snapshot.documents))
    for doc in (event, *(d for docs in documents.values() for d in docs)):
        for key, value in doc.items():
            if isinstance(value, str) and value in excluded:
                doc[key] = None
    return event, documents


class ArchiveExporter(Exporter):
    identifier = "archive"
    verbose_name = "Eventport archive (data + media)"
    extension = "zip"
    content_type = "application/zip"
    accepts_media = True
    option_names = frozenset({"media", "profile", "recipients"})

    @classmethod
    def normalize_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Media kinds; ``profile`` and ``recipients`` only when not the default, so
        plain archives keep the options (and dedupe keys) they always had."""
        normalized = cls._normalize_media(options)
        profile = options.get("profile", "full")
        if profile not in privacy.PROFILES:
            raise ValueError(f'"profile" must be one of: {", ".join(privacy.PROFILES)}')
        if profile != "full":
            normalized["profile"] = profile
        if options.get("recipients"):
            normalized["recipients"] = parse_recipients(options["recipients"])
        return normalized

    @staticmethod
    def _normalize_media(options: dict[str, Any]) -> dict[str, Any]:
        media = options.get("media", list(MEDIA_KINDS))
        if not isinstance(media, list | tuple) or not all(isinstance(k, str) for k in media):
            raise ValueError('"media" must be a list of: ' + ", ".join(MEDIA_KINDS))
        bad = sorted(set(media) - set(MEDIA_KINDS))
        if bad:
            raise ValueError(f"unknown media kind(s) {', '.join(bad)}; use: "
                             + ", ".join(MEDIA_KINDS))
        return {"media": sorted(set(media), key=MEDIA_KINDS.index)}

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        import io

        out = io.BytesIO()
        self.write(snapshot, out, ctx)
        return out.getvalue()

    def write(self, snapshot: EventSnapshot, out: BinaryIO, ctx: ExportContext) -> None:
        if ctx.options.get("profile") == "public":
            snapshot = privacy.public_view(snapshot)
            ctx = dataclasses.replace(ctx, public_only=True)
        kinds = set(ctx.options.get("media", MEDIA_KINDS))
        included = [m for m in snapshot.media if m.kind in kinds]
        missing = _find_missing(included, ctx)
        gone = {m["path"] for m in missing}
        included = [m for m in included if m.path not in gone]
        excluded = {m.path for m in snapshot.media if m.kind not in kinds} | gone
        event_doc, documents = _drop_excluded_media(snapshot, excluded)

        archive = ArchiveWriter(out)
        try:
            self._write_entries(snapshot, ctx, archive, kinds, included, event_doc, documents,
                                missing)
        except BaseException:
            archive.abort()
            raise

    def _write_entries(
        self,
        snapshot: EventSnapshot,
        ctx: ExportContext,
        archive: ArchiveWriter,
        kinds: set[str],
        included: list[MediaEntry],
        event_doc: dict[str, Any],
        documents: dict[str, list[dict[str, Any]]],
        missing: list[dict[str, Any]],
    ) -> None:
        ctx.progress("documents", 0, 1)
        archive.add_bytes("event.json", canonical_json(event_doc), "application/json")
        names = [n for n in DOCUMENT_ORDER if n in documents]
        names += sorted(set(documents) - set(DOCUMENT_ORDER))
        for name in names:
            archive.add_bytes(f"{name}.json", canonical_json(documents[name]), "application/json")
        ctx.check_cancelled()

        ctx.progress("schedule", 0, len(SCHEDULE_FILES))
        for done, (path, identifier, content_type) in enumerate(SCHEDULE_FILES, 1):
            data = self._schedule(snapshot, ctx, path, identifier)
            if data is not None:
                archive.add_bytes(path, data, content_type)
            ctx.progress("schedule", done, len(SCHEDULE_FILES))
        ctx.check_cancelled()

        self._copy_media(archive, included, ctx)

        ctx.progress("manifest", 0, 1)
        manifest = {
            "format": FORMAT_NAME,
            "version": VERSION,
            # No version number: the bytes must not change with an upgrade (docs/DESIGN.md).
            "generator": "eventport",
            # DESIGN's {id, identifier, name}: the id is the uuid, since database ids
            # never leave the server; "uuid" stays for readers of earlier archives.
            "event": {
                "id": snapshot.event.get("uuid"),
                "uuid": snapshot.event.get("uuid"),
                "identifier": snapshot.event.get("identifier"),
                "name": snapshot.event.get("name"),
            },
            "options": {"media": sorted(kinds)},
            "counts": {
                **{name: len(documents[name]) for name in names},
                "media": len(included),
            },
            "files": [entry.as_manifest() for entry in archive.entries],
            "missing": missing,
            **privacy.manifest_fields(ctx.options.get("profile", "full")),
        }
        archive.add_bytes("manifest.json", canonical_json(manifest), "application/json")
        archive.close()
        ctx.progress("manifest", 1, 1)

    @staticmethod
    def _schedule(
        snapshot: EventSnapshot, ctx: ExportContext, path: str, identifier: str
    ) -> bytes | None:
        """Render one schedule file with its registered exporter, or warn and skip it."""
        try:
            exporter = get_exporter(identifier)
        except LookupError:
            ctx.warn({"path": path, "reason": f"the {identifier} exporter is not available"})
            return None
        inner = ExportContext(options={}, warn=ctx.warn, check_cancelled=ctx.check_cancelled)
        try:
            return exporter().render(snapshot, inner)
        except ExportCancelled:
            raise
        except Exception as exc:  # one broken schedule format must not cost the archive
            ctx.warn({"path": path, "reason": f"{identifier} export failed: {exc}"})
            return None

    @staticmethod
    def _copy_media(archive: ArchiveWriter, media: list[MediaEntry], ctx: ExportContext
                    ) -> None:
        """Stream each media object into the zip. A read error ends the export (the
        context's reader already rode out what an outage it could); a file whose bytes
        differ from what was recorded at upload is kept, with a warning."""
        total = sum(m.size for m in media)
        done = 0
        ctx.progress("media", 0, total)

        def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
            nonlocal done
            since_check = 0
            for chunk in chunks:
                yield chunk
                done += len(chunk)
                since_check += len(chunk)
                if since_check >= _CHECK_EVERY_BYTES:
                    since_check = 0
                    ctx.progress("media", done, total)
                    ctx.check_cancelled()

        for entry in media:
            ctx.check_cancelled()
            start = done
            written = archive.add_stream(entry.path, counted(ctx.open_media(entry.storage_key)),
                                         entry.content_type)
            if (written.size, written.sha256) != (entry.size, entry.sha256):
                ctx.warn({"path": entry.path, "owner": entry.owner,
                          "reason": "the stored file differs from its recorded size/SHA-256; "
                                    "the archive holds the stored bytes"})
            done = start + entry.size
            ctx.progress("media", done, total)


def _find_missing(media: list[MediaEntry], ctx: ExportContext) -> list[dict[str, Any]]:
    """Media that storage reports not found, asked before any document is written (their
    references must become ``null``). An outage raises here and fails the export."""
    ctx.progress("checking media", 0, len(media))

    def stored(entry: MediaEntry) -> bool:
        return ctx.media_exists(entry.storage_key)

    if ctx.lookup_threads > 1:
        with ThreadPoolExecutor(max_workers=ctx.lookup_threads) as pool:
            present = list(pool.map(stored, media))
    else:  # a local stat: a pool's hand-offs would cost more than the lookups
        present = [stored(entry) for entry in media]
    missing = []
    for entry, exists in zip(media, present, strict=True):
        if not exists:
            item = {"path": entry.path, "owner": entry.owner,
                    "reason": "not found in storage; left out, its reference is null"}
            missing.append(item)
            ctx.warn(item)
    ctx.check_cancelled()
    return missing


register(ArchiveExporter)
