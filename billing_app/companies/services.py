"""Company operations: opening a company's billing account and inviting a driver as a member.

A company's account is postpaid, one per company (`BillingAccount.company` is unique): its business cards'
sessions go on its monthly statement. An invited driver gets a login of the company's operator, a billing profile,
a pay-as-you-go account of their own for private charging, and an e-mail with a link to choose a password.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from billing_app.models import BillingAccount
from evbilling.errors import ApplicationError, NotFoundError
from evbilling.on_commit import after_commit
from sessions_app.audit import acting
from sessions_app.models import Company, DriverProfile, User


class CompanyError(ApplicationError):
    """A company operation that cannot be done; the message says why."""


def company_account_open(*, company: Company) -> BillingAccount:
    """The company's postpaid billing account, opened once."""
    account, _created = BillingAccount.objects.get_or_create(
        company=company, defaults={"operator_id": company.operator_id,
                                   "payment_mode": BillingAccount.PaymentMode.POSTPAID})
    return account


def company_member_invite(*, by: User, email: str, full_name: str,
                          password_link: Callable[[str, str], str]) -> User:
    """A new driver of the fleet manager's company, who sets a password from the e-mailed link
    (`password_link(uidb64, token)` builds the absolute URL). An e-mail address with a login already is
    refused: a person is never moved between companies from here."""
    if not (by.is_active and by.is_fleet_manager and by.company_id):
        raise NotFoundError(_("No such company."))
    company = by.company
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists() or User.objects.filter(username__iexact=email).exists():
        raise CompanyError(_("%(email)s has a login already: ask the operator to add it to %(company)s.") % {
            "email": email, "company": company.legal_name})
    first, _space, last = full_name.strip().partition(" ")
    try:
        with transaction.atomic(), acting(by):
            driver = User(username=email, email=email, first_name=first, last_name=last, role=User.Role.DRIVER,
                          operator_id=company.operator_id, company=company, language=by.language)
            driver.set_unusable_password()
            driver.save()
            DriverProfile.objects.create(user=driver, full_name=full_name.strip(), country=company.country)
            BillingAccount.objects.create(driver=driver, operator_id=company.operator_id)
    except IntegrityError:
        raise CompanyError(_("%(email)s has a login already.") % {"email": email}) from None
    link = password_link(urlsafe_base64_encode(force_bytes(driver.pk)), default_token_generator.make_token(driver))
    words = {"name": full_name.strip(), "manager": by.get_full_name() or by.username, "company": company.legal_name,
             "operator": company.operator.name, "link": link, "email": email}
    body = _("Hello %(name)s,\n\n%(manager)s of %(company)s invites you to charge with %(operator)s. Choose your "
             "password here:\n\n%(link)s\n\nYour sign-in name is %(email)s. Your company's fleet manager issues your "
             "charging cards.\n") % words
    after_commit(send_mail, _("Your charging account with %(operator)s") % words, body,
                 settings.DEFAULT_FROM_EMAIL, [email])
    return driver
