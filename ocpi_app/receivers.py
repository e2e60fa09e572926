"""Changes in sessions_app and billing_app that partners must hear of, queued after the commit (so a push
reads the committed state and a rolled-back change pushes nothing). Sessions and charges queue work only when
they are a partner's (a roaming token's), so local charging gains no after-commit work. Connected in apps.py."""
from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing_app.invoicing.credit_notes import credit_note_issued
from billing_app.models import ChargeReview, Invoice, SessionCharge, Tariff
from billing_app.signals import tariff_parts_changed
from evbilling.on_commit import after_commit
from sessions_app.models import ChargingSession, ChargingStation, Connector, ConnectorStatusEvent, Location

from . import cdrs, sessions, sync, tokens
from .models import PartnerTariff, PartnerToken


@receiver(post_save, sender=Location, dispatch_uid="ocpi_location_saved")
def _location_saved(sender, instance: Location, raw=False, **kwargs):
    if not raw:
        after_commit(sync.location_push, instance.pk)


@receiver(post_save, sender=ChargingStation, dispatch_uid="ocpi_station_saved")
def _station_saved(sender, instance: ChargingStation, raw=False, **kwargs):
    if not raw:
        after_commit(sync.location_push, instance.location_id)


@receiver(post_save, sender=Connector, dispatch_uid="ocpi_connector_saved")
def _connector_saved(sender, instance: Connector, raw=False, **kwargs):
    if not raw:
        after_commit(sync.location_push, instance.station.location_id)


@receiver(post_save, sender=ConnectorStatusEvent, dispatch_uid="ocpi_status_recorded")
def _status_recorded(sender, instance: ConnectorStatusEvent, created=False, raw=False, **kwargs):
    if created and not raw and instance.connector_number:
        connector = Connector.objects.filter(station_id=instance.station_id,
                                             number=instance.connector_number).values_list("pk", flat=True).first()
        if connector:
            after_commit(sync.evse_status_push, connector)


@receiver(post_save, sender=Tariff, dispatch_uid="ocpi_tariff_saved")
def _tariff_saved(sender, instance: Tariff, raw=False, **kwargs):
    if not raw:
        after_commit(sync.tariff_push, instance.pk)


@receiver(tariff_parts_changed, dispatch_uid="ocpi_tariff_parts_changed")
def _tariff_parts_changed(sender, tariff_id: int, **kwargs):
    """An element, price component or alt text saved or deleted on its own (its admin page, an import): the
    partners get the tariff again. (Saved with the tariff's form, the tariff's own push after the commit has it
    already; the extra push of the same tariff supersedes the open one, `push.push_enqueue`.)"""
    after_commit(sync.tariff_push, tariff_id)


@receiver(post_save, sender=PartnerTariff, dispatch_uid="ocpi_partner_tariff_linked")
def _tariff_linked(sender, instance: PartnerTariff, created=False, raw=False, **kwargs):
    if created and not raw:
        after_commit(sync.tariff_push, instance.tariff_id, partner_id=instance.partner_id)


@receiver(post_delete, sender=PartnerTariff, dispatch_uid="ocpi_partner_tariff_unlinked")
def _tariff_unlinked(sender, instance: PartnerTariff, **kwargs):
    partner, tariff = instance.partner, instance.tariff
    after_commit(sync.tariff_withdraw, partner=partner, tariff=tariff)
    after_commit(tokens.partner_tariffs_assign, partner)


@receiver(post_save, sender=PartnerTariff, dispatch_uid="ocpi_partner_tariff_priced")
def _tariff_priced(sender, instance: PartnerTariff, raw=False, **kwargs):
    if not raw:  # the partner's drivers are priced with what it is shown
        after_commit(tokens.partner_tariffs_assign, instance.partner)


@receiver(post_save, sender=ChargingSession, dispatch_uid="ocpi_session_saved")
def _session_saved(sender, instance: ChargingSession, raw=False, **kwargs):
    if not raw and instance.id_token_id and PartnerToken.objects.filter(id_token_id=instance.id_token_id).exists():
        after_commit(sessions.session_push, instance.pk)


@receiver(post_save, sender=SessionCharge, dispatch_uid="ocpi_charge_saved")
def _charge_saved(sender, instance: SessionCharge, raw=False, **kwargs):
    if not raw and PartnerToken.objects.filter(id_token__sessions=instance.session_id).exists():
        after_commit(sessions.session_push, instance.session_id)  # the session with its final cost
        after_commit(cdrs.cdr_issue_for_charge, charge_id=instance.pk)


@receiver(post_save, sender=ChargeReview, dispatch_uid="ocpi_review_saved")
def _review_saved(sender, instance: ChargeReview, raw=False, **kwargs):
    if not raw and instance.status != ChargeReview.Status.HELD and PartnerToken.objects.filter(
            id_token__sessions__charge=instance.charge_id).exists():
        after_commit(cdrs.cdr_issue_for_charge, charge_id=instance.charge_id)


@receiver(credit_note_issued, dispatch_uid="ocpi_credit_note_issued")
def _credit_note_issued(sender, credit_note, **kwargs):
    """Sent on commit of any credit note (a dispute's, staff's in the admin, a credit CDR's): one on a settlement
    invoice that reduces a CDR's line becomes a credit CDR (+ a corrected CDR); the beat's sweep catches a lost one."""
    if credit_note.invoice.kind == Invoice.Kind.SETTLEMENT:
        after_commit(cdrs.cdr_correct_for_credit_note, credit_note_id=credit_note.pk)
