"""Operations that change charging sessions. Every one is transactional and safe to repeat:
chargers re-send messages after a reconnect, so the same start, samples or stop arriving twice
changes nothing the second time.

The operations live in `sessions` (start to stop), `stations` (what the gateway reports about stations,
connectors and tokens) and `samples_batch` (the gateway's group commit); import them from here."""
from .samples_batch import SampleReport, samples_validate, session_charging_state_record, session_samples_record_many
from .sessions import (
    SampleIn,
    SessionError,
    session_attach_token,
    session_fail,
    session_record_samples,
    session_start,
    session_start_reported,
    session_stop,
    sessions_close_stale,
)
from .stations import (
    Authorization,
    connector_for_number,
    connector_status_record,
    station_boot,
    station_connected,
    station_disconnected,
    station_seen,
    token_authorize,
)

__all__ = [
    "Authorization",
    "SampleIn",
    "SampleReport",
    "SessionError",
    "connector_for_number",
    "connector_status_record",
    "samples_validate",
    "session_attach_token",
    "session_charging_state_record",
    "session_fail",
    "session_record_samples",
    "session_samples_record_many",
    "session_start",
    "session_start_reported",
    "session_stop",
    "sessions_close_stale",
    "station_boot",
    "station_connected",
    "station_disconnected",
    "station_seen",
    "token_authorize",
]
