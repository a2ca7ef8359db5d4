"""RetentionPolicy: which finished exports to delete, and the sweep that deletes them.

The seed system never deleted an export. Here a succeeded export is kept while it is
among the last ``EVENTPORT_EXPORT_KEEP_LAST`` of its event and format *and* younger than
``EVENTPORT_EXPORT_MAX_AGE_DAYS``; pinned exports are kept regardless. Expired jobs stay
in the history (state ``expired``) so organizers see what happened to a file.

The policy is a pure function of the jobs and a clock (tests pass their own clock);
:func:`sweep` applies it: storage object first, then the row, so a failed delete is
retried by the next sweep instead of leaving a job that points at nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.config import get_settings
from eventport.db import utcnow
from eventport.exports.models import ExportJob, JobState
from eventport.storage import Storage, StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int
    max_age: dt.timedelta
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @classmethod
    def from_settings(cls, clock: Callable[[], dt.datetime] = utcnow) -> RetentionPolicy:
        settings = get_settings()
        return cls(settings.export_keep_last, dt.timedelta(days=settings.export_max_age_days),
                   clock)

    def expired(self, jobs: Iterable[ExportJob]) -> list[ExportJob]:
        """The succeeded, unpinned jobs this policy removes, oldest first."""
        now = self.clock()
        groups: dict[tuple[int, str], list[ExportJob]] = defaultdict(list)
        for job in jobs:
            # A backup policy's exports follow that policy's keep_last (backups/service).
            if job.state == JobState.SUCCEEDED.value and job.backup_policy_id is None:
                groups[(job.event_id, job.format)].append(job)
        doomed: list[ExportJob] = []
        for group in groups.values():
            group.sort(key=lambda j: (j.finished_at or j.created_at, j.id), reverse=True)
            # Pinned exports are outside the policy: they neither expire nor take one
            # of the N places, so pinning an old export never evicts a recent one.
            for rank, job in enumerate(j for j in group if not j.pinned):
                finished = job.finished_at or job.created_at
                if rank >= self.keep_last or now - finished > self.max_age:
                    doomed.append(job)
        return sorted(doomed, key=lambda j: (j.finished_at or j.created_at, j.id))


@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bytes_freed: int = 0


def sweep(db: Session, storage: Storage, policy: RetentionPolicy | None = None,
          *, dry_run: bool = False) -> SweepReport:
    """Delete what the policy expires; with ``dry_run`` only report it."""
    policy = policy or RetentionPolicy.from_settings()
    jobs = db.scalars(select(ExportJob).where(ExportJob.state == JobState.SUCCEEDED.value))
    report = SweepReport()
    for job in policy.expired(jobs):
        if dry_run:
            report.expired.append(job.id)
            report.bytes_freed += job.size or 0
            continue
        try:
            if job.storage_key:
                storage.delete(job.storage_key)
        except StorageError:
            log.warning("retention: could not delete %s; will retry", job.storage_key,
                        exc_info=True)
            report.failed.append(job.id)
            continue
        report.expired.append(job.id)
        report.bytes_freed += job.size or 0
        job.state = JobState.EXPIRED.value
        job.storage_key = None
        job.expires_at = policy.clock()
        db.commit()
    return report
