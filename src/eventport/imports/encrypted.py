"""Encrypted uploads (``….zip.age``): decrypted before the import job is queued.

The secret key (``identity``) comes with the upload request and lives only in that
request's memory: it is never written to the database, the broker or a log. So the
decryption happens here, in the request, streamed from the staged upload into a second
staged object (bounded memory, pyrage in Rust) — a worker, which never sees the key,
then imports a plain zip as usual. An age file uploaded without an identity, or with one
that does not fit, is refused with a 422 that says so, instead of failing later as
"not a zip file".
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from eventport.errors import InvalidInput
from eventport.exports.encryption import AGE_MAGIC, decrypt_stream, parse_identity
from eventport.imports.models import ImportJob
from eventport.storage import Storage, StorageError


def is_encrypted(storage: Storage, key: str) -> bool:
    head = b"".join(storage.open(key, start=0, end=len(AGE_MAGIC)))
    return head == AGE_MAGIC


def _refuse(db: Session, storage: Storage, job: ImportJob, message: str) -> InvalidInput:
    job.state, job.progress_stage, job.error = "failed", "failed", message
    db.commit()
    if job.staging_key:
        try:
            storage.delete(job.staging_key)
        except StorageError:
            pass
    return InvalidInput(message)


def decrypt_upload(db: Session, storage: Storage, job: ImportJob, identity: str | None
                   ) -> None:
    """Replace an age-encrypted staged upload by its plaintext; no-op for plain files."""
    key = job.staging_key
    if not key or not is_encrypted(storage, key):
        return
    if not identity:
        raise _refuse(db, storage, job, "this archive is encrypted (age); send the secret "
                      "key (AGE-SECRET-KEY-1…) in the identity field to import it")
    try:
        secret = parse_identity(identity)
        plain_key = f"{key.rsplit('/', 1)[0]}/decrypted.zip"
        with storage.writer(plain_key, content_type="application/zip") as out:
            decrypt_stream(storage.open(key), out, secret)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _refuse(db, storage, job, str(exc)) from None
    storage.delete(key)
    job.staging_key = plain_key
    job.upload_size = out.result.size if out.result else job.upload_size
    db.commit()
