"""Billing's reactions to sessions_app signals (billing reacts to none of its own: it calls), and the one
bookkeeping rule of its own rows a signal keeps: a tariff's `last_updated` moves when its parts change, however
they are saved (admin inlines, the element's own admin page, an import)."""
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing_app.models import PriceComponent, TariffAltText, TariffElement
from billing_app.payments.session_holds import session_hold_claim
from billing_app.payments.tasks import session_payment_settle
from billing_app.settlement.tasks import session_settle
from billing_app.tariffs.services import tariff_touch
from sessions_app.signals import session_authorized, session_completed


@receiver(session_completed, dispatch_uid="billing_settle_completed_session")
def settle_completed_session(sender, session, **kwargs):
    """Queue settlement once the completing transaction has committed (never for a rolled-back stop).

    robust: a failure to queue or (eagerly) price never fails the stop the charger is waiting on;
    unpriced sessions are picked up again by `settle_pending` on the beat schedule. Pricing is chained
    to the payment (capture of a pay-as-you-go hold); `payments_settle_pending` catches what it misses."""

    transaction.on_commit(
        lambda: (session_settle.si(session.pk) | session_payment_settle.si(session.pk)).delay(), robust=True
    )


@receiver(session_authorized, dispatch_uid="billing_claim_hold_of_started_session")
def claim_hold_of_started_session(sender, session, **kwargs):
    """Each pay-as-you-go session claims its own hold as it starts (docs/payments.md). Inside the start's
    transaction, in a savepoint of its own; sent robustly, so a failure never fails the start: the settlement
    then claims a free hold, and the receipt sweep collects what none covered."""
    with transaction.atomic():
        session_hold_claim(session=session)


@receiver(post_save, sender=TariffElement, dispatch_uid="billing_touch_tariff_of_saved_element")
@receiver(post_delete, sender=TariffElement, dispatch_uid="billing_touch_tariff_of_deleted_element")
@receiver(post_save, sender=TariffAltText, dispatch_uid="billing_touch_tariff_of_saved_alt_text")
@receiver(post_delete, sender=TariffAltText, dispatch_uid="billing_touch_tariff_of_deleted_alt_text")
def touch_tariff_of_changed_part(sender, instance, raw=False, **kwargs):
    """The running cost reads a tariff again when its `last_updated` moved (`tariffs.services.engine_tariff`)."""
    if not raw:
        tariff_touch(tariff_id=instance.tariff_id)


@receiver(post_save, sender=PriceComponent, dispatch_uid="billing_touch_tariff_of_saved_component")
@receiver(post_delete, sender=PriceComponent, dispatch_uid="billing_touch_tariff_of_deleted_component")
def touch_tariff_of_changed_component(sender, instance, raw=False, **kwargs):
    if not raw:
        tariff_id = TariffElement.objects.filter(pk=instance.element_id).values_list("tariff_id", flat=True).first()
        if tariff_id is not None:
            tariff_touch(tariff_id=tariff_id)
