"""Background jobs: the Celery app, thin tasks over the services, the embedded worker.

Entry points for the rest of the code: :func:`enqueue_export` (API, web) and
:func:`eventport.jobs.embedded.embedded_worker` (``eventport serve``).
"""

from eventport.jobs.celery_app import enqueue_export, get_celery

__all__ = ["enqueue_export", "get_celery"]
