"""Background jobs: the Celery app, thin tasks over the services, the embedded worker.

Entry points for the rest of the code: :func:`enqueue_export` (API, web) and
:func:`eventport.jobs.embedded.embedded_worker` (``eventport serve``).
"""

from eventport.jobs.celery_app import enqueue_export, enqueue_webhook, get_celery
from eventport.webhooks import service as _webhooks

# Webhook deliveries made in this process (web, worker, CLI) go straight to the workers.
_webhooks.dispatcher = enqueue_webhook

__all__ = ["enqueue_export", "enqueue_webhook", "get_celery"]
