"""Filter values the database cannot take are the caller's mistake: a 400 naming the field, never a 500
(found by the Schemathesis run: an id past SQLite's INTEGER, a time zone offset PostgreSQL refuses)."""
import pytest

from tests.evbilling.api_fixtures import api_for, assert_error

HUGE = str(2**64)


@pytest.mark.parametrize(("url", "field"), [("/api/v1/invoices/", "session"), ("/api/v1/payments/", "session"),
                                            ("/api/v1/payments/", "invoice"), ("/api/v1/credit-notes/", "invoice"),
                                            ("/api/v1/disputes/", "session"), ("/api/v1/disputes/", "invoice")])
@pytest.mark.parametrize("value", [HUGE, "0", "-3", "1.5"])
def test_an_id_filter_takes_only_a_database_key(staff, url, field, value):
    assert_error(api_for(staff).get(url, {field: value}), 400, field=field)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "2026-02-30T10:00:00Z", "yesterday"])
def test_a_date_time_filter_refuses_what_the_database_cannot_store(staff, value):
    assert_error(api_for(staff).get("/api/v1/sessions/", {"started_before": value}), 400, field="started_before")


@pytest.mark.parametrize("value", ["0111-06-02T14:00:25-16:21", "2026-03-02T10:00:00+14:00"])
def test_a_date_time_filter_takes_any_offset_as_utc(staff, value):
    """PostgreSQL refuses an offset past ±15:59 in a query: the filter sends the instant in UTC."""
    response = api_for(staff).get("/api/v1/sessions/", {"started_before": value})
    assert response.status_code == 200 and response.json()["count"] == 0
