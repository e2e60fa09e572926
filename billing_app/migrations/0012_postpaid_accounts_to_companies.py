"""Today's postpaid accounts become companies (issue 20), losing no history.

Before companies, a "postpaid fleet" was one driver whose BillingAccount was postpaid. Each such account becomes
the account of a new Company named after the driver's company name (or the driver), with the driver's billing
details; the account row itself moves to the company (its issued statements keep pointing at it, so the company
sees them, and they keep their driver, so the driver still sees them too). The driver becomes the company's
member, their cards its business cards, and their sessions that no receipt covers its business sessions.

Drivers who shared a company name become separate companies: their histories are separate accounts, and an
issued statement never changes account. Reversible for the companies made here (one member, same account).
"""
from django.db import migrations



def _unique_name(Company, operator_id: int, wanted: str, username: str) -> str:
    name = (wanted or username)[:200]
    if Company.objects.filter(operator_id=operator_id, legal_name=name).exists():
        name = f"{wanted or username} ({username})"[:200]
    return name


def postpaid_accounts_to_companies(apps, schema_editor):
    BillingAccount = apps.get_model("billing_app", "BillingAccount")
    Company = apps.get_model("sessions_app", "Company")
    DriverProfile = apps.get_model("sessions_app", "DriverProfile")
    IdToken = apps.get_model("sessions_app", "IdToken")
    ChargingSession = apps.get_model("sessions_app", "ChargingSession")
    User = apps.get_model("sessions_app", "User")
    accounts = BillingAccount.objects.filter(payment_mode="postpaid", driver__isnull=False,
                                             company__isnull=True).order_by("pk")
    for account in accounts:
        driver = User.objects.get(pk=account.driver_id)
        profile = DriverProfile.objects.filter(user_id=driver.pk).first()
        person = (profile.full_name if profile else "") or f"{driver.first_name} {driver.last_name}".strip()
        company = Company.objects.create(
            operator_id=account.operator_id,
            legal_name=_unique_name(Company, account.operator_id,
                                    (profile.company_name if profile else "") or person, driver.username),
            address=profile.address if profile else "", postal_code=profile.postal_code if profile else "",
            city=profile.city if profile else "",
            country=(profile.country if profile else "") or account.operator.country,
            vat_id=profile.company_vat_id if profile else "", billing_email=driver.email,
            payment_terms_days=14, purchase_order="", buyer_reference="",
        )
        BillingAccount.objects.filter(pk=account.pk).update(driver=None, company=company)
        User.objects.filter(pk=driver.pk).update(company=company)
        IdToken.objects.filter(driver_id=driver.pk, operator_id=account.operator_id).update(
            company=company, charging="business")
        (ChargingSession.objects.filter(driver_id=driver.pk, operator_id=account.operator_id, company__isnull=True)
         .exclude(receipts__isnull=False).update(company=company))


def companies_to_postpaid_accounts(apps, schema_editor):
    """Back to one postpaid driver account per company that has exactly one member and no driver account."""
    BillingAccount = apps.get_model("billing_app", "BillingAccount")
    Company = apps.get_model("sessions_app", "Company")
    User = apps.get_model("sessions_app", "User")
    IdToken = apps.get_model("sessions_app", "IdToken")
    ChargingSession = apps.get_model("sessions_app", "ChargingSession")
    for account in BillingAccount.objects.filter(company__isnull=False).order_by("pk"):
        members = list(User.objects.filter(company_id=account.company_id, role="driver"))
        if len(members) != 1 or BillingAccount.objects.filter(driver_id=members[0].pk).exists():
            continue
        company_id = account.company_id
        BillingAccount.objects.filter(pk=account.pk).update(driver=members[0], company=None)
        IdToken.objects.filter(company_id=company_id).update(company=None, charging="private", cost_centre="")
        ChargingSession.objects.filter(company_id=company_id).update(company=None, cost_centre="")
        User.objects.filter(company_id=company_id).update(company=None)
        Company.objects.filter(pk=company_id).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("billing_app", "0011_company_accounts"),
    ]

    operations = [
        migrations.RunPython(postpaid_accounts_to_companies, companies_to_postpaid_accounts, elidable=False),
    ]
