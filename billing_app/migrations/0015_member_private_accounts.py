"""A private (pay-as-you-go) billing account for every company member who has none: the drivers whose postpaid
account migration 0012 moved to their company. Their business cards bill the company; a private card of theirs now
finds an account (a card hold, once they add a card in the portal) instead of none. Reversible: the accounts made
here that no invoice uses are removed again, so 0012 can be reversed after."""
from django.db import migrations


def member_private_accounts(apps, schema_editor):
    BillingAccount = apps.get_model("billing_app", "BillingAccount")
    User = apps.get_model("sessions_app", "User")
    members = (User.objects.filter(role="driver", company__isnull=False, operator__isnull=False)
               .exclude(pk__in=BillingAccount.objects.filter(driver__isnull=False).values("driver_id")))
    BillingAccount.objects.bulk_create([
        BillingAccount(driver_id=member.pk, operator_id=member.operator_id, payment_mode="payg")
        for member in members.order_by("pk")])


def member_private_accounts_remove(apps, schema_editor):
    BillingAccount = apps.get_model("billing_app", "BillingAccount")
    (BillingAccount.objects.filter(driver__company__isnull=False, payment_mode="payg", invoices__isnull=True)
     .delete())


class Migration(migrations.Migration):

    dependencies = [
        ("billing_app", "0014_document_language"),
        ("sessions_app", "0014_company_einvoice_details"),
    ]

    operations = [
        migrations.RunPython(member_private_accounts, member_private_accounts_remove, elidable=False),
    ]
