"""OCPI 2.2.1 roaming: our CPO identity per operator and the partners (eMSPs, hubs) connected to it.

A partner is one OCPI connection of one operator. Its credentials token (the one it sends us) is stored
only as a SHA-256 hash: we verify it, never send it. The token we send it (its token B or C) is kept as
given, because every request we make carries it.

Invariants kept by the database: one CPO party (country code + party id) per operator and platform-wide
unique, one registered partner per (operator, country code, party id, role), one hashed token per partner
and platform-wide unique (a token identifies exactly one partner, hence one operator).
"""
from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from evbilling.outbound_delivery import OutboundDelivery
from sessions_app.models import Operator

party_id_validator = RegexValidator(r"^[A-Z0-9]{3}$", _("Three capital letters or digits (ISO 15118), e.g. VOL."))
ocpi_country_validator = RegexValidator(r"^[A-Z]{2}$", _("The ISO 3166-1 alpha-2 code, e.g. DE."))


class CpoParty(models.Model):
    """Who the operator is in OCPI: the CPO role it announces in its credentials and on its objects."""

    OWNER_PATH = "operator"

    operator = models.OneToOneField(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                    related_name="ocpi_party")
    country_code = models.CharField(_("country code"), max_length=2, validators=[ocpi_country_validator])
    party_id = models.CharField(_("party id"), max_length=3, validators=[party_id_validator])
    business_name = models.CharField(_("business name"), max_length=100, blank=True,
                                     help_text=_("blank: the operator's legal name"))
    website = models.URLField(_("website"), blank=True)

    class Meta:
        verbose_name = _("OCPI CPO party")
        verbose_name_plural = _("OCPI CPO parties")
        constraints = [
            models.UniqueConstraint(fields=["country_code", "party_id"], name="unique_ocpi_cpo_party"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


class Partner(models.Model):
    """An OCPI connection of one operator with one platform (an eMSP, or a hub standing for many).

    Status: `pending` (we issued token A, the partner has not registered yet), `registering` (we are
    registering with the partner: it may read our versions with the token B we sent), `registered`,
    `unregistered` (either side ended it; nothing is exchanged any more).
    """

    OWNER_PATH = "operator"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the partner to register (token A issued)"
        REGISTERING = "registering", "Registering with the partner"
        REGISTERED = "registered", "Registered"
        UNREGISTERED = "unregistered", "Unregistered"

    class Role(models.TextChoices):
        EMSP = "EMSP", "eMSP"
        HUB = "HUB", "Hub"
        NSP = "NSP", "Navigation service provider"
        NAP = "NAP", "National access point"
        SCSP = "SCSP", "Smart charging service provider"
        OTHER = "OTHER", "Other"

    class TokenKind(models.TextChoices):
        A = "A", "Token A (registration only)"
        B = "B", "Token B (we registered with the partner)"
        C = "C", "Token C (the partner registered with us)"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="ocpi_partners")
    name = models.CharField(_("name"), max_length=100)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    country_code = models.CharField(_("country code"), max_length=2, blank=True, validators=[ocpi_country_validator])
    party_id = models.CharField(_("party id"), max_length=3, blank=True, validators=[party_id_validator])
    role = models.CharField(_("role"), max_length=5, choices=Role.choices, blank=True)
    business_name = models.CharField(_("business name"), max_length=100, blank=True)
    roles = models.JSONField(_("roles"), default=list, blank=True, help_text=_("the CredentialsRoles the partner sent"))
    versions_url = models.URLField(_("versions URL"), max_length=500, blank=True)
    version = models.CharField(_("version"), max_length=8, blank=True)
    endpoints = models.JSONField(_("endpoints"), default=list, blank=True, help_text=_("the partner's 2.2.1 endpoints"))
    token_hash = models.CharField(_("token hash"), max_length=64, null=True, blank=True, unique=True, editable=False,
                                  help_text=_("SHA-256 of the token the partner sends us"))
    token_kind = models.CharField(_("token kind"), max_length=1, choices=TokenKind.choices, blank=True, editable=False)
    token_theirs = models.CharField(_("token theirs"), max_length=64, blank=True, editable=False,
                                    help_text=_("the token we send the partner (its token B or C)"))
    company = models.OneToOneField("sessions_app.Company", verbose_name=_("company"), null=True, blank=True,
                                   on_delete=models.PROTECT,
                                   related_name="ocpi_partner",
                                   help_text=_("the partner's legal entity, the buyer of its monthly settlement "
                                               "invoices"))
    roaming_driver = models.OneToOneField("sessions_app.User", verbose_name=_("roaming driver"), null=True, blank=True,
                                          on_delete=models.PROTECT,
                                          related_name="ocpi_partner", editable=False,
                                          help_text=_("stands for the partner's drivers on their tokens and sessions"))
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    unregistered_at = models.DateTimeField(_("unregistered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name_plural = _("OCPI partners")
        ordering = ["operator", "name"]
        verbose_name = _("OCPI partner")
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="unique_ocpi_partner_name"),
            models.UniqueConstraint(fields=["operator", "country_code", "party_id", "role"],
                                    condition=Q(status="registered"), name="one_registered_ocpi_party_per_operator"),
            models.CheckConstraint(name="ocpi_partner_registered_has_party",
                                   condition=~Q(status="registered") | (~Q(country_code="") & ~Q(party_id="")
                                                                         & ~Q(role="") & ~Q(token_theirs=""))),
        ]

    def __str__(self) -> str:
        party = f" ({self.country_code}*{self.party_id})" if self.party_id else ""
        return f"{self.name}{party}"

    def endpoint_url(self, identifier: str, role: str = "RECEIVER") -> str | None:
        """The partner's URL of module `identifier` for the interface `role` (SENDER / RECEIVER)."""
        for endpoint in self.endpoints or []:
            if endpoint.get("identifier") == identifier and endpoint.get("role", role) == role:
                return endpoint.get("url")
        return None


class PartnerTariff(models.Model):
    """A tariff the operator shows one partner (OCPI 2.2.1 allows per-eMSP tariffs): what it pulls, what we
    push, and what its drivers are priced with."""

    OWNER_PATH = "partner__operator"

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE,
                                related_name="tariff_links")
    tariff = models.ForeignKey("billing_app.Tariff", verbose_name=_("tariff"), on_delete=models.CASCADE,
                               related_name="ocpi_partner_links")

    class Meta:
        verbose_name_plural = _("tariff shown to the partners")
        verbose_name = _("tariff shown to the partner")
        constraints = [models.UniqueConstraint(fields=["partner", "tariff"], name="one_partner_tariff_link")]

    def __str__(self) -> str:
        return _("%(tariff)s for %(partner)s") % {"tariff": self.tariff, "partner": self.partner}


class LocationVersion(models.Model):
    """When a location, one of its chargers or connectors, or a connector's status last changed: the OCPI
    `last_updated` that date filters and pushes go by (sessions_app keeps no such column)."""

    OWNER_PATH = "location__operator"

    location = models.OneToOneField("sessions_app.Location", verbose_name=_("location"), on_delete=models.CASCADE,
                                    related_name="ocpi_version")
    last_updated = models.DateTimeField(_("last updated"), db_index=True)

    class Meta:
        verbose_name = _("location version")
        verbose_name_plural = _("location versions")

    def __str__(self) -> str:
        return _("%(location)s at %(time)s") % {
            "location": self.location_id, "time": f"{self.last_updated:%Y-%m-%d %H:%M:%S}"}


class PushDelivery(OutboundDelivery):
    """One push (PUT or PATCH) of one object to one partner's receiver endpoint, with its attempt history in
    the columns: pending (queued), retrying (due again at `next_attempt_at`), succeeded (HTTP 2xx with OCPI
    1xxx), failed (attempts used up, or an OCPI client error that a retry cannot fix), superseded (a newer
    push of the same object to the same URL was queued before this one went out)."""

    OWNER_PATH = "partner__operator"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer push"

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="pushes")
    module = models.CharField(_("module"), max_length=20)
    object_id = models.CharField(_("object id"), max_length=100)
    method = models.CharField(_("method"), max_length=6)
    url = models.URLField(_("URL"), max_length=700)
    to_party = models.CharField(_("to party"), max_length=6, blank=True,
                                help_text=_("CC*PID the push is for when the partner is a hub (OCPI-to-* headers)"))
    body = models.TextField(_("body"), help_text=_("the OCPI JSON sent"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    last_http_status = models.PositiveSmallIntegerField(_("last http status"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last OCPI status code"), null=True, blank=True)

    class Meta(OutboundDelivery.Meta):
        verbose_name = _("OCPI push")
        verbose_name_plural = _("OCPI pushes")
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "retrying"]),
                                name="ocpi_push_due")]
        constraints = [
            models.CheckConstraint(name="ocpi_push_open_is_scheduled",
                                   condition=~Q(status__in=["pending", "retrying"]) | Q(next_attempt_at__isnull=False)),
            models.CheckConstraint(name="ocpi_push_succeeded_has_time",
                                   condition=~Q(status="succeeded") | Q(delivered_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return _("%(method)s %(module)s %(object)s to %(partner)s (%(status)s)") % {
            "method": self.method, "module": self.module, "object": self.object_id, "partner": self.partner,
            "status": self.status}


class PartnerToken(models.Model):
    """A token a partner pushed (mod_tokens, we are its Receiver), tied to the IdToken the chargers know it
    by. The IdToken belongs to the operator and to the partner's roaming driver (`Partner.roaming_driver`),
    who has no billing account: no card hold, no receipt; the eMSP pays us against the CDRs."""

    OWNER_PATH = "partner__operator"

    class Whitelist(models.TextChoices):
        ALWAYS = "ALWAYS", "Always (no real-time authorization)"
        ALLOWED = "ALLOWED", "Allowed (real-time authorization when reachable)"
        ALLOWED_OFFLINE = "ALLOWED_OFFLINE", "Allowed offline (only when the eMSP is unreachable)"
        NEVER = "NEVER", "Never (real-time authorization required)"

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="tokens")
    id_token = models.OneToOneField("sessions_app.IdToken", verbose_name=_("id token"), on_delete=models.PROTECT,
                                    related_name="ocpi_token")
    uid = models.CharField(_("uid"), max_length=36)
    type = models.CharField(_("type"), max_length=12)
    contract_id = models.CharField(_("contract id"), max_length=36)
    valid = models.BooleanField(_("valid"))
    whitelist = models.CharField(_("whitelist"), max_length=15, choices=Whitelist.choices)
    last_updated = models.DateTimeField(_("last updated"))
    data = models.TextField(_("data"), help_text=_("the Token object as the partner sent it (JSON)"))

    class Meta:
        verbose_name_plural = _("OCPI tokens")
        ordering = ["partner", "uid"]
        verbose_name = _("OCPI token")
        constraints = [models.UniqueConstraint(fields=["partner", "uid", "type"], name="one_ocpi_token_per_uid_type")]

    def __str__(self) -> str:
        return _("%(uid)s (%(type)s) of %(partner)s") % {"uid": self.uid, "type": self.type, "partner": self.partner}


class CdrRecord(models.Model):
    """A CDR we issued to a partner, as sent: never edited. A correction is a credit CDR (negative totals,
    `credit_reference_id` = the CDR it cancels) followed by a new CDR. `state` follows its push. Settlement
    (`ocpi_app.settlement`) puts a CDR on one monthly invoice (`invoice`) and a credit CDR on one credit note
    (`credit_note`), each once: the columns are the record of it. A credit note on a settlement invoice that
    reduces a CDR's line settles the credit CDR and the corrected CDR it causes: both point at it. A month whose
    CDRs cancel out (or are 0.00) issues no invoice; its CDRs record that (`nothing_to_bill_period`)."""

    OWNER_PATH = "partner__operator"

    class Kind(models.TextChoices):
        CDR = "cdr", "CDR"
        CREDIT = "credit", "Credit CDR"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent (no receiver: waits to be pulled)"
        ACKNOWLEDGED = "acknowledged", "Acknowledged by the partner"
        FAILED = "failed", "Push failed"

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="cdrs")
    session = models.ForeignKey("sessions_app.ChargingSession", verbose_name=_("session"), on_delete=models.PROTECT,
                                related_name="ocpi_cdrs")
    cdr_id = models.CharField(_("CDR id"), max_length=39, unique=True)
    kind = models.CharField(_("kind"), max_length=6, choices=Kind.choices, default=Kind.CDR)
    credit_reference = models.OneToOneField("self", verbose_name=_("credit reference"), null=True, blank=True,
                                            on_delete=models.PROTECT,
                                            related_name="credited_by")
    currency = models.CharField(_("currency"), max_length=3)
    total_excl_vat = models.DecimalField(_("total excl vat"), max_digits=14, decimal_places=2)
    total_incl_vat = models.DecimalField(_("total incl vat"), max_digits=14, decimal_places=2)
    body = models.TextField(_("body"), help_text=_("the CDR JSON as issued"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    push = models.ForeignKey(PushDelivery, verbose_name=_("push"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    last_updated = models.DateTimeField(_("last updated"), db_index=True)
    net_by_rate = models.JSONField(_("net by rate"), default=dict, blank=True,
                                   help_text=_("net amount per VAT rate as issued ({'19': '12.34'}; '' is no VAT)"))
    invoice = models.ForeignKey("billing_app.Invoice", verbose_name=_("invoice"), null=True, blank=True,
                                on_delete=models.PROTECT,
                                related_name="ocpi_cdrs", help_text=_("the settlement invoice this CDR is on"))
    credit_note = models.ForeignKey("billing_app.CreditNote", verbose_name=_("credit note"), null=True, blank=True,
                                    on_delete=models.PROTECT,
                                    related_name="ocpi_cdrs",
                                    help_text=_("the credit note settling this credit CDR (or a dispute's correction)"))
    nothing_to_bill_period = models.DateField(
        _("settled with nothing to bill"), null=True, blank=True,
        help_text=_("the month (its first day) whose settlement found this CDR cancelled out by its credit CDR, or "
                    "of 0.00, with nothing else to bill: no invoice was issued, and it goes on none"))

    class Meta:
        ordering = ["last_updated", "pk"]
        verbose_name = _("OCPI CDR")
        verbose_name_plural = _("OCPI CDRs")
        constraints = [
            models.CheckConstraint(name="ocpi_credit_cdr_never_invoiced",
                                   condition=Q(kind="cdr") | Q(invoice__isnull=True)),
            models.CheckConstraint(name="ocpi_cdr_on_one_document",
                                   condition=Q(invoice__isnull=True) | Q(credit_note__isnull=True)),
            models.CheckConstraint(name="ocpi_cdr_nothing_to_bill_on_no_document",
                                   condition=Q(nothing_to_bill_period__isnull=True)
                                   | Q(invoice__isnull=True, credit_note__isnull=True)),
            models.CheckConstraint(name="ocpi_credit_cdr_references",
                                   condition=Q(kind="cdr", credit_reference__isnull=True)
                                   | Q(kind="credit", credit_reference__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.cdr_id


class CommandRequest(models.Model):
    """A command a partner sent (mod_commands, we are its Receiver) and what became of it: the charger's
    answer is sent back to `response_url` as the CommandResult."""

    OWNER_PATH = "partner__operator"

    class Result(models.TextChoices):
        PENDING = "PENDING", "Waiting for the charger"
        ACCEPTED = "ACCEPTED", "Accepted"
        CANCELED_RESERVATION = "CANCELED_RESERVATION", "Reservation canceled"
        EVSE_OCCUPIED = "EVSE_OCCUPIED", "EVSE occupied"
        EVSE_INOPERATIVE = "EVSE_INOPERATIVE", "EVSE inoperative"
        FAILED = "FAILED", "Failed"
        NOT_SUPPORTED = "NOT_SUPPORTED", "Not supported"
        REJECTED = "REJECTED", "Rejected"
        TIMEOUT = "TIMEOUT", "No answer in time"
        UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION", "Unknown reservation"

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(_("command"), max_length=20)
    reference = models.CharField(_("reference"), max_length=36, blank=True,
                                 help_text=_("the session or reservation id it names"))
    connector = models.ForeignKey("sessions_app.Connector", verbose_name=_("connector"), null=True, blank=True,
                                  on_delete=models.SET_NULL,
                                  related_name="+")
    response_url = models.URLField(_("response URL"), max_length=500)
    body = models.TextField(_("body"), help_text=_("the command as the partner sent it (JSON)"))
    command_id = models.CharField(_("command id"), max_length=32, blank=True,
                                  help_text=_("the gateway's id of the OCPP command"))
    charger_answer = models.CharField(_("charger answer"), max_length=255, blank=True)
    result = models.CharField(_("result"), max_length=20, choices=Result.choices, default=Result.PENDING)
    result_sent_at = models.DateTimeField(_("result sent at"), null=True, blank=True)
    result_error = models.CharField(_("result error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name_plural = _("OCPI commands")
        ordering = ["-created_at", "-pk"]
        verbose_name = _("OCPI command")

    def __str__(self) -> str:
        return _("%(command)s from %(partner)s (%(result)s)") % {
            "command": self.command, "partner": self.partner, "result": self.result}


class HubClient(models.Model):
    """A party a hub partner says is connected to it (mod_hub_client_info, we are the Receiver): through that
    hub we accept its tokens and commands and address its sessions and CDRs (routing headers)."""

    OWNER_PATH = "hub__operator"

    class Status(models.TextChoices):
        CONNECTED = "CONNECTED", "Connected"
        OFFLINE = "OFFLINE", "Offline"
        PLANNED = "PLANNED", "Planned"
        SUSPENDED = "SUSPENDED", "Suspended"

    hub = models.ForeignKey(Partner, verbose_name=_("hub"), on_delete=models.CASCADE, related_name="hub_clients")
    country_code = models.CharField(_("country code"), max_length=2)
    party_id = models.CharField(_("party id"), max_length=3)
    role = models.CharField(_("role"), max_length=5)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    last_updated = models.DateTimeField(_("last updated"))

    class Meta:
        verbose_name_plural = _("OCPI hub clients")
        ordering = ["hub", "country_code", "party_id"]
        verbose_name = _("OCPI hub client")
        constraints = [models.UniqueConstraint(fields=["hub", "country_code", "party_id"], name="one_hub_client")]

    def __str__(self) -> str:
        return _("%(party)s (%(role)s, %(status)s) via %(hub)s") % {
            "party": f"{self.country_code}*{self.party_id}", "role": self.role, "status": self.status, "hub": self.hub}
