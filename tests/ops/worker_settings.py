"""Settings of the Celery workers the Redis and worker-loss tests start: production settings, except that
Redis gives back a message held by a dead worker (or whose acknowledgement was lost) after 3 s instead of
an hour, and looks for such messages every second (kombu's defaults: 3600 s, a scan every ~100 s)."""
from evbilling.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                   "unacked_restore_throttle": 1}
