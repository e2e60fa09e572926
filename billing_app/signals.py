"""Signals billing sends about its own records, for the apps above it (webhooks); billing never imports
them. Each is sent inside the transaction that made the change, after the change: a receiver that
starts external work defers it with transaction.on_commit, and must not let its own failure break the
billing operation (catch it inside a savepoint).

`credit_note_issued` (invoicing.credit_notes) and `payment_dispute_changed` (payments) predate this
module and stay where they are.
"""
from django.dispatch import Signal

#: `invoices`: the list of Invoice rows just issued (one send per issuing batch).
invoice_issued = Signal()
#: `invoice`: an invoice that has just become paid.
invoice_paid = Signal()
#: `invoice`: an issued invoice that has just been voided.
invoice_voided = Signal()
#: `payment`, `from_status`: a payment whose status has just changed (captured, failed, canceled...).
payment_status_changed = Signal()
#: `refund`: a refund Stripe has just accepted.
refund_succeeded = Signal()
#: `tariff_id`: a tariff whose parts (elements, price components, alt texts) were saved or deleted on their own;
#: its `last_updated` has moved (`tariffs.services.tariff_touch`). A save of the tariff row is Tariff's post_save.
tariff_parts_changed = Signal()
