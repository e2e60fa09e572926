"""Operations that change charging sessions. Every one is transactional and safe to repeat:
chargers re-send messages after a reconnect, so the same start, samples or stop arriving twice
changes nothing the second time.

The operations live in `sessions` (start to stop), `stations` (what the gateway reports about stations,
connectors and tokens), `transactions` (OCPP 2.0.1 TransactionEvents), `signed_values` (signed meter
values, OCMF, and meter keys) and `samples_batch` (the gateway's
group commit); import them from here."""
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
from .signed_values import (
    MeterKeyError,
    SignedReadingIn,
    meter_key_check,
    meter_key_for,
    meter_key_from_charger,
    meter_key_register,
    session_signatures_verify,
    session_signed_values_record,
)
from .stations import (
    Authorization,
    authorization_complete,
    authorization_payment_check,
    authorization_payment_unknown,
    connector_for_number,
    connector_status_record,
    station_boot,
    station_connected,
    station_disconnected,
    station_seen,
    token_authorize,
    token_check,
)
from .transactions import transaction_event_record

__all__ = [
    "Authorization",
    "MeterKeyError",
    "SampleIn",
    "SampleReport",
    "SessionError",
    "SignedReadingIn",
    "authorization_complete",
    "authorization_payment_check",
    "authorization_payment_unknown",
    "connector_for_number",
    "connector_status_record",
    "meter_key_check",
    "meter_key_for",
    "meter_key_from_charger",
    "meter_key_register",
    "samples_validate",
    "session_attach_token",
    "session_charging_state_record",
    "session_fail",
    "session_record_samples",
    "session_samples_record_many",
    "session_signatures_verify",
    "session_signed_values_record",
    "session_start",
    "session_start_reported",
    "session_stop",
    "sessions_close_stale",
    "station_boot",
    "station_connected",
    "station_disconnected",
    "station_seen",
    "token_authorize",
    "token_check",
    "transaction_event_record",
]
