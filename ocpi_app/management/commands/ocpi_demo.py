"""Demo data for OCPI roaming (`make run` calls it): each operator's CPO party, and for the first operator a
registered demo eMSP that pulls (no receiver endpoints, so nothing is pushed anywhere), is shown the
operator's first tariff, has pushed one token whose card charged a few times over the past weeks (CDRs and
settlement invoices: `ocpi_app.demo`) and has a billing company (so `ocpi_settle` invoices its CDRs monthly).
Idempotent; prints a fresh credentials token of the demo
eMSP each run (we keep only its hash) and a curl line to try the API with it."""
from base64 import b64encode

from django.core.management.base import BaseCommand
from django.db import transaction

from billing_app.companies.services import company_account_open
from billing_app.models import Tariff
from ocpi_app.auth import token_generate, token_hash
from ocpi_app.credentials import versions_url
from ocpi_app.demo import load_roaming_history
from ocpi_app.models import CpoParty, Partner, PartnerTariff
from ocpi_app.tokens import token_store
from sessions_app.models import Company, Operator

DEMO_CARD = "04DE0CA1"  # the RFID card uid of the demo eMSP's driver


class Command(BaseCommand):
    help = "Set up OCPI demo data: CPO parties, a registered demo eMSP with a tariff and a token."

    @transaction.atomic
    def handle(self, *args, **options):
        operators = list(Operator.objects.order_by("pk"))
        if not operators:
            self.stdout.write("No operators: load the demo data first (manage.py load_demo).")
            return
        for operator in operators:
            party_id = "".join(c for c in operator.invoice_prefix if c.isalnum())[:3].upper().ljust(3, "X")
            CpoParty.objects.get_or_create(operator=operator, defaults={
                "country_code": operator.country, "party_id": party_id})
        operator = operators[0]
        token = token_generate()
        partner, _ = Partner.objects.update_or_create(operator=operator, name="Demo eMSP", defaults={
            "status": Partner.Status.REGISTERED, "country_code": "NL", "party_id": "DMS", "role": "EMSP",
            "business_name": "Demo eMSP B.V.", "token_hash": token_hash(token), "token_kind": Partner.TokenKind.C,
            "token_theirs": "demo-emsp-has-no-endpoints", "version": "2.2.1", "endpoints": []})
        if partner.company_id is None:  # the buyer of its monthly settlement invoices
            details = {"address": "Stationsplein 1", "postal_code": "1012 AB", "city": "Amsterdam", "country": "NL",
                       "billing_email": "accounts@demo-emsp.example", "invoice_format": Company.InvoiceFormat.PDF}
            partner.company, _ = Company.objects.get_or_create(operator=operator, legal_name="Demo eMSP B.V.",
                                                               defaults=details)
            partner.save(update_fields=["company"])
            company_account_open(company=partner.company)
        tariff = Tariff.objects.filter(operator=operator).order_by("pk").first()
        if tariff is not None:
            PartnerTariff.objects.get_or_create(partner=partner, tariff=tariff)
        card = {"country_code": "NL", "party_id": "DMS", "uid": DEMO_CARD, "type": "RFID",
            "contract_id": "NL-DMS-C00000001", "issuer": "Demo eMSP", "valid": True, "whitelist": "ALWAYS",
            "last_updated": "2026-01-01T00:00:00Z"}
        stored, _ = token_store(partner=partner, country_code="NL", party_id="DMS", uid=DEMO_CARD,
                                token_type=card["type"], data=card)
        roaming = load_roaming_history(partner=partner, id_token=stored.id_token)
        if roaming:
            self.stdout.write(f"OCPI: {roaming} past roaming sessions of the demo eMSP's card added, with their CDRs "
                              "and the closed months' settlement invoices (admin -> OCPI roaming).")
        encoded = b64encode(token.encode()).decode()
        self.stdout.write("OCPI: the demo eMSP's CDRs are invoiced monthly (manage.py ocpi_settle --partner "
                          "'Demo eMSP' [--period YYYY-MM]; admin: OCPI partners -> Reconciliation and settlement).")
        self.stdout.write(f"OCPI: {operator} is {operator.ocpi_party}; the demo eMSP (NL*DMS) is registered and its "
                          f"card {DEMO_CARD} charges as a roaming driver. Its credentials token (new each run):")
        locations = versions_url().rsplit("/", 1)[0] + "/2.2.1/locations"
        self.stdout.write(f"  curl -H 'Authorization: Token {encoded}' {locations}")
