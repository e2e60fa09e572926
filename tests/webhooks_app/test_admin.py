"""The admin: operator staff manage their own endpoints (secret shown and rotatable, a test event),
read their own delivery log and redeliver from it; another operator's staff finds nothing to see or
touch; support staff look without acting; bad URLs are form errors."""
import pytest
from auditlog.models import LogEntry
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from tests import factories
from webhooks_app import services, signing
from webhooks_app.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks_app/webhookendpoint/"
DELIVERIES = "/admin/webhooks_app/webhookdelivery/"


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator, username="olivia-staff")


@pytest.fixture
def other_staff(other_operator):
    return factories.OperatorStaffFactory(operator=other_operator, username="bruno-foreign")


@pytest.fixture
def own_support(operator):
    user = factories.SupportFactory(username="sam-support")
    user.supported_operators.add(operator)
    return user


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def failed_delivery(settings, operator, endpoint, receiver, django_capture_on_commit_callbacks):
    """A delivery the receiver answered 500 to, with no retries left."""
    settings.WEBHOOKS_RETRY_SCHEDULE = []
    receiver.answer_with(500)
    with django_capture_on_commit_callbacks(execute=True):
        event = services.webhook_event_emit(operator=operator, type="invoice.issued",
                                            payload={"invoice": {"number": "VOLT-2026-000042"}})
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.last_response_status) == ("failed", 500)
    return delivery


def test_staff_add_an_endpoint_of_their_operator_and_see_its_generated_secret(client, staff, other_operator, receiver):
    logged_in(client, staff)
    response = client.post(f"{ENDPOINTS}add/", {
        "url": f"{receiver.url}/zendesk", "description": "Zendesk", "event_types": ["invoice.issued", "dispute.opened"],
        "is_active": "on", "operator": other_operator.pk,  # ignored: staff always add for their own operator
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.operator_id == staff.operator_id
    assert endpoint.event_types == ["invoice.issued", "dispute.opened"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == 70
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret in page.content.decode()


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://files.example.com/hooks", "Enter a full http:// or https:// URL"),
    ("https://user:pw@helpdesk.example.com/hooks", "no user name or password"),
    ("not a url at all", "Enter a valid URL"),
])
def test_bad_urls_are_form_errors_and_nothing_is_saved(client, staff, url, message):
    response = logged_in(client, staff).post(f"{ENDPOINTS}add/", {"url": url, "is_active": "on"})
    assert response.status_code == 200 and message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_is_refused_where_it_is_not_allowed(client, staff, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    response = logged_in(client, staff).post(f"{ENDPOINTS}add/", {"url": "http://helpdesk.example.com/h",
                                                                  "is_active": "on"})
    assert response.status_code == 200 and "Webhook URLs must use https://." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    response = client.post(f"{ENDPOINTS}add/", {"url": "https://helpdesk.example.com/h", "is_active": "on"})
    assert response.status_code == 302 and WebhookEndpoint.objects.count() == 1


def test_another_operators_staff_cannot_see_or_change_the_endpoint(client, other_staff, endpoint):
    logged_in(client, other_staff)
    listing = client.get(ENDPOINTS)
    assert listing.status_code == 200 and endpoint.url not in listing.content.decode()
    for url in (f"{ENDPOINTS}{endpoint.pk}/change/", f"{ENDPOINTS}{endpoint.pk}/delete/",
                f"{ENDPOINTS}{endpoint.pk}/history/"):
        response = client.get(url, follow=True)
        assert response.redirect_chain or response.status_code in (403, 404), url
        assert endpoint.secret not in response.content.decode()
    client.post(f"{ENDPOINTS}{endpoint.pk}/change/", {"url": "https://evil.example.com/", "is_active": "on"})
    client.post(f"{ENDPOINTS}{endpoint.pk}/delete/", {"post": "yes"})
    client.post(ENDPOINTS, {"action": "rotate_secret", ACTION_CHECKBOX_NAME: [endpoint.pk]})
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (fresh.url, fresh.secret) == (endpoint.url, endpoint.secret)


def test_rotating_the_secret_signs_with_the_new_one_and_is_audited_without_it(
        client, staff, operator, endpoint, receiver, django_capture_on_commit_callbacks):
    response = logged_in(client, staff).post(ENDPOINTS, {"action": "rotate_secret",
                                                         ACTION_CHECKBOX_NAME: [endpoint.pk]})
    assert response.status_code == 302
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert fresh.secret != endpoint.secret and fresh.secret.startswith("whsec_") and fresh.secret_rotated_at
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_event_emit(operator=operator, type="session.completed", payload={})
    [request] = receiver.requests
    header = request.headers["Evbilling-Signature"]
    signing.verify(payload=request.body, header=header, secret=fresh.secret)
    with pytest.raises(signing.SignatureError):
        signing.verify(payload=request.body, header=header, secret=endpoint.secret)
    update = LogEntry.objects.get_for_object(fresh).get(action=LogEntry.Action.UPDATE)
    assert "secret_rotated_at" in update.changes_dict and "secret" not in update.changes_dict
    assert all(secret not in str(entry.changes) + entry.changes_text
               for entry in LogEntry.objects.get_for_object(fresh) for secret in (fresh.secret, endpoint.secret))


def test_send_test_event_reaches_the_endpoint(client, staff, endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint.event_types = ["dispute.opened"]  # the test event goes whatever the endpoint subscribes to
    endpoint.save()
    with django_capture_on_commit_callbacks(execute=True):
        logged_in(client, staff).post(ENDPOINTS, {"action": "send_test_event", ACTION_CHECKBOX_NAME: [endpoint.pk]})
    [request] = receiver.requests
    assert request.json["type"] == "webhook.test" and request.json["data"]["endpoint"]["id"] == endpoint.pk
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_delivery_log_shows_each_attempt_and_the_receivers_answer(client, staff, failed_delivery):
    page = logged_in(client, staff).get(f"{DELIVERIES}{failed_delivery.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "receiver says 500" in body and "HTTP 500" in body and str(failed_delivery.event.event_id) in body
    assert "VOLT-2026-000042" in body  # the request body as sent
    listing = client.get(DELIVERIES).content.decode()
    assert "Redeliver now" in listing and str(failed_delivery.event.event_id) in listing
    endpoint_page = client.get(f"{ENDPOINTS}{failed_delivery.endpoint_id}/change/").content.decode()
    assert "1 deliveries" in endpoint_page  # the link to this endpoint's log
    by_endpoint = client.get(f"{DELIVERIES}?endpoint__id__exact={failed_delivery.endpoint_id}")
    assert by_endpoint.status_code == 200 and str(failed_delivery.event.event_id) in by_endpoint.content.decode()


def test_redeliver_action_sends_again_and_records_who_asked(client, staff, failed_delivery, receiver,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(client, staff).post(DELIVERIES, {"action": "redeliver",
                                                              ACTION_CHECKBOX_NAME: [failed_delivery.pk]})
    assert response.status_code == 302
    delivery = WebhookDelivery.objects.get(pk=failed_delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("succeeded", 2, 200)
    assert list(delivery.attempt_log.values_list("number", "response_status", "requested_by")) == [
        (1, 500, None), (2, 200, staff.pk)]
    assert [r.headers["Evbilling-Event-Id"] for r in receiver.requests] == [str(delivery.event.event_id)] * 2


def test_another_operators_staff_cannot_see_or_redeliver_the_delivery(client, other_staff, failed_delivery,
                                                                      receiver, django_capture_on_commit_callbacks):
    logged_in(client, other_staff)
    assert str(failed_delivery.event.event_id) not in client.get(DELIVERIES).content.decode()
    response = client.get(f"{DELIVERIES}{failed_delivery.pk}/change/", follow=True)
    assert response.redirect_chain or response.status_code in (403, 404)
    assert "VOLT-2026-000042" not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(DELIVERIES, {"action": "redeliver", ACTION_CHECKBOX_NAME: [failed_delivery.pk]})
    with pytest.raises(services.WebhookNotFound):
        services.webhook_delivery_redeliver(delivery_id=failed_delivery.pk, user=other_staff)
    assert WebhookDelivery.objects.get(pk=failed_delivery.pk).attempts == 1 and len(receiver.requests) == 1


def test_support_staff_read_the_log_but_do_not_act(client, own_support, failed_delivery, endpoint):
    logged_in(client, own_support)
    assert client.get(f"{DELIVERIES}{failed_delivery.pk}/change/").status_code == 200
    listing = client.get(DELIVERIES).content.decode()
    assert "Redeliver now" not in listing
    client.post(DELIVERIES, {"action": "redeliver", ACTION_CHECKBOX_NAME: [failed_delivery.pk]})
    assert WebhookDelivery.objects.get(pk=failed_delivery.pk).attempts == 1
    assert client.get(f"{ENDPOINTS}add/").status_code == 403
    with pytest.raises(services.WebhookNotFound):
        services.webhook_endpoint_rotate_secret(endpoint_id=endpoint.pk, user=own_support)


def test_redelivery_to_a_disabled_endpoint_is_refused_with_a_reason(staff, failed_delivery, endpoint):
    endpoint.is_active = False
    endpoint.save()
    with pytest.raises(services.WebhookError, match="enable it before redelivering"):
        services.webhook_delivery_redeliver(delivery_id=failed_delivery.pk, user=staff)
    assert WebhookDelivery.objects.get(pk=failed_delivery.pk).status == "failed"
