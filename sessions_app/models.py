"""The charging domain: operators (tenants), their sites and chargers, drivers and their tokens,
charging sessions and the meter samples they are priced from.

Invariants that must never break live in database constraints: one active session per connector,
no stop before start, no meter stop below meter start, one sample per session and instant.
"""
import zoneinfo
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)r is not an IANA time zone (e.g. Europe/Berlin).") % {"value": value})


country_code_validator = RegexValidator(r"^[A-Z]{2}$", _("Use the ISO 3166-1 alpha-2 code, e.g. DE."))
CURRENCY_CHOICES = [(code, code) for code in settings.CURRENCIES]


class Operator(models.Model):
    """A charge point operator: the tenant every other row belongs to."""

    OWNER_PATH = ""

    name = models.CharField(_("name"), max_length=100, unique=True)
    legal_name = models.CharField(_("legal name"), max_length=200)
    vat_id = models.CharField(_("VAT id"), max_length=30, blank=True)
    address = models.TextField(_("address"), blank=True)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    default_currency = models.CharField(_("default currency"), max_length=3, choices=CURRENCY_CHOICES)
    invoice_prefix = models.CharField(
        _("invoice prefix"), max_length=12,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9]{2,12}$", _("2-12 capital letters or digits."))],
    )
    email = models.EmailField(_("email"), blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True,
                                   help_text=_("Of the address above (XRechnung needs it)."))
    city = models.CharField(_("city"), max_length=100, blank=True,
                            help_text=_("Of the address above (XRechnung needs it)."))
    phone = models.CharField(_("phone"), max_length=40, blank=True,
                             help_text=_("The billing contact's telephone, on e-invoices (XRechnung needs it)."))
    iban = models.CharField(_("IBAN"), max_length=34, blank=True,
                            help_text=_("Where statements are paid to (e-invoice payment instructions)."))
    max_off_session_charge = models.DecimalField(
        _("maximum off-session charge"), max_digits=10, decimal_places=2, default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("The most a pay-as-you-go session may charge the card above its hold without a review "
                    "(in the session's currency); a higher cost waits for review in the admin."),
    )
    overdue_refusal_days = models.PositiveSmallIntegerField(
        _("refuse charging after overdue (days)"), null=True, blank=True, default=7,
        help_text=_("A driver whose charging receipt has been overdue (every payment retry failed) for this many "
                    "days is refused new sessions at the chargers until it is paid (Pay now in the portal). "
                    "Empty: never refused."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        if self.iban:
            from stdnum import iban

            if not iban.is_valid(self.iban):
                raise ValidationError({"iban": _("This is not a valid IBAN.")})
            self.iban = iban.compact(self.iban)

    def xrechnung_missing(self) -> list[str]:
        """What XRechnung needs of the seller that this operator lacks (BR-DE-1..7 and BT-34)."""
        needs = {"VAT id": self.vat_id, "postal code": self.postal_code, "city": self.city, "e-mail": self.email,
                 "phone": self.phone, "IBAN": self.iban}
        return [name for name, value in needs.items() if not value]


class User(AbstractUser):
    """Everyone who logs in. The role decides what they see; operator staff and drivers belong
    to one operator, support staff serve the operators listed in `supported_operators`."""

    OWNER_PATH = "operator"

    class Role(models.TextChoices):
        DRIVER = "driver", _("Driver")
        OPERATOR_STAFF = "operator_staff", _("Operator staff")
        SUPPORT = "support", _("Support staff")
        FLEET_MANAGER = "fleet_manager", _("Fleet manager")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.DRIVER)
    operator = models.ForeignKey(
        Operator, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    supported_operators = models.ManyToManyField(Operator, verbose_name=_("supported operators"), blank=True,
                                                 related_name="support_staff")
    company = models.ForeignKey(
        "Company", verbose_name=_("company"), null=True, blank=True, on_delete=models.PROTECT, related_name="members",
        help_text=_("A driver's employer (its business cards are billed to it), or the company a fleet manager "
                    "manages."),
    )
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("the language pages and e-mails use; blank: the browser's"))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                name="operator_staff_has_operator",
                condition=~Q(role="operator_staff") | Q(operator__isnull=False),
            ),
            models.CheckConstraint(
                name="fleet_manager_has_company",
                condition=~Q(role="fleet_manager") | (Q(company__isnull=False) & Q(operator__isnull=False)),
            ),
        ]

    @property
    def is_operator_staff(self) -> bool:
        return self.role == self.Role.OPERATOR_STAFF

    @property
    def is_support(self) -> bool:
        return self.role == self.Role.SUPPORT

    @property
    def is_driver(self) -> bool:
        return self.role == self.Role.DRIVER

    @property
    def is_fleet_manager(self) -> bool:
        return self.role == self.Role.FLEET_MANAGER


class DriverProfile(models.Model):
    """A driver's billing details, printed on their receipts and invoices."""

    OWNER_PATH = "user__operator"

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="driver_profile")
    full_name = models.CharField(_("full name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    company_vat_id = models.CharField(_("company VAT id"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("driver profile")
        verbose_name_plural = _("driver profiles")

    def __str__(self) -> str:
        return self.company_name or self.full_name


class Company(models.Model):
    """A business customer of one operator (a fleet): its drivers are members, its business cards' sessions
    are billed to it on one monthly statement. The details are the buyer's on its invoices (EN 16931 BG-7)."""

    OWNER_PATH = "operator"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="companies")
    legal_name = models.CharField(_("legal name"), max_length=200)
    address = models.TextField(_("address"), help_text=_("Street and number (further lines allowed)."))
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES,
                                help_text=_("the language of its statements, credit notes and their e-mails; blank: "
                                            "the default language"))
    vat_id = models.CharField(_("VAT id"), max_length=30, blank=True,
                              help_text=_("Checked with python-stdnum by the rules of the company's country."))
    buyer_reference = models.CharField(
        _("buyer reference"), max_length=100, blank=True,
        help_text=_("Printed on every invoice (EN 16931 BT-10); German public bodies: their Leitweg-ID."))
    billing_email = models.EmailField(_("billing email"), help_text=_("Where the monthly statement is sent."))
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment terms days"), default=14, validators=[MaxValueValidator(365)],
        help_text=_("Days from the issue date to pay a statement."))
    purchase_order = models.CharField(_("purchase order number"), max_length=100, blank=True)
    class InvoiceFormat(models.TextChoices):
        PDF = "pdf", _("PDF")
        FACTURX = "facturx", _("Factur-X (PDF with the EN 16931 XML embedded)")
        XRECHNUNG = "xrechnung", _("XRechnung 3.0 (CII XML; German public buyers with a Leitweg-ID)")

    invoice_format = models.CharField(
        _("invoice format"), max_length=10, choices=InvoiceFormat.choices, default=InvoiceFormat.FACTURX,
        help_text=_("What the statement and credit note e-mails attach."))
    class VatTreatment(models.TextChoices):
        STANDARD = "standard", _("Standard: VAT of the charger's country, as priced (S, or Z at 0 %)")
        REVERSE_CHARGE = "reverse_charge", _("Reverse charge: the buyer accounts for the VAT (AE)")
        EXEMPT = "exempt", _("Exempt from VAT, with the reason (E)")

    vat_treatment = models.CharField(
        _("VAT treatment"), max_length=20, choices=VatTreatment.choices, default=VatTreatment.STANDARD,
        help_text=_("How this buyer's statements are taxed (docs/companies.md). Reverse charge: an electricity "
                    "reseller (e.g. an eMSP: German §13b UStG, EU VAT Directive Art. 38 and 195), only on your tax "
                    "adviser's word; it needs both VAT ids. Exempt: give the legal reason."))
    vat_exemption_reason = models.CharField(
        _("VAT exemption reason"), max_length=300, blank=True,
        help_text=_("Printed on the invoice and in the e-invoice (EN 16931 BT-120). Blank with reverse charge: "
                    "the standard wording."))
    vat_exemption_code = models.CharField(
        _("VAT exemption reason code"), max_length=30, blank=True,
        help_text=_("EN 16931 BT-121, a VATEX code (e.g. VATEX-EU-151-1A). Blank with reverse charge: VATEX-EU-AE."))
    statement_session_lines = models.PositiveIntegerField(
        _("statement session lines"), default=200, validators=[MinValueValidator(1)],
        help_text=_("Above this many sessions a statement shows the subtotals and attaches the session list "
                    "instead of a line per session."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        ordering = ["operator", "legal_name"]
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(fields=["operator", "legal_name"], name="unique_company_name_per_operator"),
        ]

    def __str__(self) -> str:
        return self.legal_name

    def clean(self):
        from .vat_ids import vat_id_clean

        super().clean()
        if self.vat_id and self.country:
            try:
                self.vat_id = vat_id_clean(self.vat_id, self.country)
            except ValidationError as error:
                raise ValidationError({"vat_id": error.messages}) from None
        if self.invoice_format == self.InvoiceFormat.XRECHNUNG:
            from .leitweg_ids import leitweg_id_clean

            if not self.buyer_reference:
                raise ValidationError({"buyer_reference": _("XRechnung needs the buyer's Leitweg-ID here.")})
            try:
                self.buyer_reference = leitweg_id_clean(self.buyer_reference)
            except ValidationError as error:
                raise ValidationError({"buyer_reference": error.messages}) from None
            missing = self.operator_id and self.operator.xrechnung_missing()
            if missing:
                raise ValidationError({"invoice_format": _("XRechnung needs the operator's %(fields)s.") % {
                    "fields": ", ".join(missing)}})
        if self.vat_treatment == self.VatTreatment.REVERSE_CHARGE:
            if not self.vat_id:
                raise ValidationError({"vat_id": _("Reverse charge needs the buyer's VAT id on every invoice.")})
            if self.operator_id and not self.operator.vat_id:
                raise ValidationError({"vat_treatment": _("Reverse charge needs the operator's own VAT id.")})
        if self.vat_exemption_code:
            from .vat_ids import vatex_code_clean

            try:
                self.vat_exemption_code = vatex_code_clean(self.vat_exemption_code)
            except ValidationError as error:
                raise ValidationError({"vat_exemption_code": error.messages}) from None
        if self.vat_treatment == self.VatTreatment.EXEMPT and not (self.vat_exemption_reason or
                                                                   self.vat_exemption_code):
            raise ValidationError({"vat_exemption_reason": _("An exempt buyer's invoices must state why (a reason "
                                                             "or a VATEX code).")})


class Location(models.Model):
    OWNER_PATH = "operator"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="locations")
    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    latitude = models.DecimalField(
        _("latitude"), max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    calibration_law = models.BooleanField(
        _("calibration-law mode"), default=False,
        help_text=_("German Eichrecht: bill exactly the energy the meter signed (end - begin); a session without "
                    "valid signed readings is held for review. Off: signatures are checked for information only."),
    )

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["operator", "name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="unique_location_name_per_operator"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"


class ChargingStation(models.Model):
    """A charger, known to the OCPP gateway by its identity; its password is stored hashed."""

    OWNER_PATH = "location__operator"

    class Status(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        AVAILABLE = "available", _("Available")
        UNAVAILABLE = "unavailable", _("Unavailable")
        FAULTED = "faulted", _("Faulted")

    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT,
                                 related_name="stations")
    ocpp_identity = models.CharField(
        _("OCPP identity"),
        max_length=48,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9._-]+$", _("Letters, digits, dot, dash and underscore."))],
    )
    vendor = models.CharField(_("vendor"), max_length=50, blank=True)
    model = models.CharField(_("model"), max_length=50, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=50, blank=True)
    firmware_version = models.CharField(_("firmware version"), max_length=50, blank=True)
    password_hash = models.CharField(_("password hash"), max_length=128, blank=True, editable=False)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    last_boot_at = models.DateTimeField(_("last boot at"), null=True, blank=True)
    ocpp_version = models.CharField(_("OCPP version"), max_length=8, blank=True)
    connected_to = models.CharField(
        _("connected to"), max_length=64, blank=True,
        help_text=_("The gateway process holding the charger's websocket; blank when offline.")
    )

    class Meta:
        verbose_name = _("charging station")
        verbose_name_plural = _("charging stations")
        ordering = ["ocpp_identity"]

    def __str__(self) -> str:
        return self.ocpp_identity

    @property
    def operator(self) -> Operator:
        return self.location.operator

    @property
    def is_online(self) -> bool:
        """Connected to a gateway and heard from within two heartbeat intervals (a gateway that died
        without saying so stops counting after that)."""
        if not self.connected_to or self.last_seen_at is None:
            return False
        horizon = timedelta(seconds=2 * settings.OCPP_HEARTBEAT_INTERVAL + 60)
        return self.last_seen_at >= timezone.now() - horizon

    def set_password(self, raw_password: str) -> None:
        self.password_hash = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return bool(self.password_hash) and check_password(raw_password, self.password_hash)


class Connector(models.Model):
    """An outlet of a station (OCPP 1.6 connectorId; in OCPP 2.0.1 terms, an EVSE's connector)."""

    OWNER_PATH = "station__location__operator"

    class Standard(models.TextChoices):
        TYPE2 = "IEC_62196_T2", _("Type 2")
        CCS2 = "IEC_62196_T2_COMBO", _("CCS 2")
        CHADEMO = "CHADEMO", _("CHAdeMO")
        TYPE1 = "IEC_62196_T1", _("Type 1")
        CCS1 = "IEC_62196_T1_COMBO", _("CCS 1")

    class PowerType(models.TextChoices):
        AC_3_PHASE = "AC_3_PHASE", _("AC three-phase")
        AC_1_PHASE = "AC_1_PHASE", _("AC single-phase")
        DC = "DC", _("DC")

    station = models.ForeignKey(ChargingStation, verbose_name=_("station"), on_delete=models.CASCADE,
                                related_name="connectors")
    number = models.PositiveSmallIntegerField(_("number"), validators=[MinValueValidator(1)])
    standard = models.CharField(_("standard"), max_length=24, choices=Standard.choices)
    power_type = models.CharField(_("power type"), max_length=12, choices=PowerType.choices)
    max_power_kw = models.DecimalField(
        _("max power (kW)"), max_digits=6, decimal_places=1, validators=[MinValueValidator(Decimal("0.1"))]
    )
    status = models.CharField(_("status"), max_length=20, default="Unknown")

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["station", "number"]
        constraints = [
            models.UniqueConstraint(fields=["station", "number"], name="unique_connector_number_per_station"),
            models.CheckConstraint(name="connector_number_positive", condition=Q(number__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.station.ocpp_identity}#{self.number}"


class IdToken(models.Model):
    """What a driver presents at a charger: an RFID card uid or an app token."""

    OWNER_PATH = "operator"

    class Type(models.TextChoices):
        RFID = "RFID", _("RFID card")
        APP = "APP_USER", _("App token")
        AD_HOC = "AD_HOC", _("Ad hoc (guest, one session)")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        BLOCKED = "blocked", _("Blocked")
        EXPIRED = "expired", _("Expired")

    class Charging(models.TextChoices):
        PRIVATE = "private", _("Private (the driver pays)")
        BUSINESS = "business", _("Business (the company pays)")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="id_tokens")
    uid = models.CharField(
        _("UID"),
        max_length=36,
        validators=[RegexValidator(r"^[A-Za-z0-9-]+$", _("Letters, digits and dashes only."))],
    )
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.RFID)
    driver = models.ForeignKey(User, verbose_name=_("driver"), on_delete=models.PROTECT, related_name="id_tokens")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    blocked_by = models.ForeignKey(User, verbose_name=_("blocked by"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+",
                                   help_text=_("who blocked it: a driver may unblock only a card they blocked"))
    replaced_by = models.OneToOneField("self", verbose_name=_("replaced by"), null=True, blank=True,
                                       on_delete=models.SET_NULL,
                                       related_name="replaces", help_text=_("the card registered in its place"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    company = models.ForeignKey(Company, verbose_name=_("company"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="cards",
                                help_text=_("The company whose card this is (its member's)."))
    charging = models.CharField(_("charging"), max_length=8, choices=Charging.choices, default=Charging.PRIVATE,
                                help_text=_("Business: the company pays; private: the driver pays as usual."))
    cost_centre = models.CharField(_("cost centre"), max_length=40, blank=True)
    licence_plate = models.CharField(_("licence plate"), max_length=16, blank=True)
    monthly_cap = models.DecimalField(
        _("monthly spending cap"), max_digits=10, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Business charging incl. VAT per calendar month in the operator's currency; once reached, "
                    "the card is refused until the next month and the company is told. Blank: no cap."))

    class Meta:
        verbose_name = _("id token")
        verbose_name_plural = _("id tokens")
        ordering = ["uid"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "uid"], name="unique_token_uid_per_operator"),
            models.CheckConstraint(name="business_card_has_company",
                                   condition=Q(charging="private") | Q(company__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.uid

    def clean(self):
        super().clean()
        if self.charging == self.Charging.BUSINESS and self.company_id is None:
            raise ValidationError({"charging": _("Only a company's card can be charged to a company.")})
        if self.company_id and self.driver_id and self.driver.company_id != self.company_id:
            raise ValidationError({"driver": _("A company's card belongs to one of its member drivers.")})

    @property
    def is_business(self) -> bool:
        return self.charging == self.Charging.BUSINESS and self.company_id is not None

    def session_billing(self) -> dict:
        """What a session started with this card records about who pays: the company and cost centre of a
        business card, nothing for a private one."""
        if not self.is_business:
            return {"company_id": None, "cost_centre": ""}
        return {"company_id": self.company_id, "cost_centre": self.cost_centre}


class ChargingSession(models.Model):
    """One charge, from StartTransaction to StopTransaction. Energy is the meter difference."""

    OWNER_PATH = "operator"

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT,
                                 related_name="sessions")
    connector = models.ForeignKey(Connector, verbose_name=_("connector"), on_delete=models.PROTECT,
                                  related_name="sessions")
    id_token = models.ForeignKey(
        IdToken, verbose_name=_("id token"), null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    driver = models.ForeignKey(
        User, verbose_name=_("driver"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="charging_sessions"
    )
    transaction_ref = models.CharField(
        _("transaction ref"), max_length=64,
        help_text=_("The charger's transaction id (OCPP 2.0.1) or our own reference.")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    started_at = models.DateTimeField(_("started at"))
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    meter_start_wh = models.DecimalField(_("meter start wh"), max_digits=15, decimal_places=3)
    meter_stop_wh = models.DecimalField(_("meter stop wh"), max_digits=15, decimal_places=3, null=True, blank=True)
    energy_wh = models.DecimalField(
        _("energy wh"), max_digits=15, decimal_places=3, default=Decimal(0), help_text=_("meter stop - meter start")
    )
    stop_reason = models.CharField(_("stop reason"), max_length=40, blank=True)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    company = models.ForeignKey(
        Company, verbose_name=_("company"), null=True, blank=True, on_delete=models.PROTECT, related_name="sessions",
        help_text=_("Billed to this company: started with one of its business cards (fixed when the token is named)."))
    cost_centre = models.CharField(_("cost centre"), max_length=40, blank=True,
                                   help_text=_("The card's cost centre when it started."))

    class Meta:
        verbose_name = _("charging session")
        verbose_name_plural = _("charging sessions")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["operator", "-started_at"], name="session_operator_started"),
            models.Index(fields=["driver", "-started_at"], name="session_driver_started"),
            # Lists across operators (support staff, superusers) newest first; the month-end billing run
            # picks a batch of drivers' sessions by stop time (see docs/operations.md, Storage and scale).
            models.Index(fields=["-started_at", "-id"], name="session_started"),
            models.Index(fields=["driver", "stopped_at"], name="session_driver_stopped"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(state="active"),
                name="one_active_session_per_connector",
            ),
            models.UniqueConstraint(
                fields=["connector", "transaction_ref"], name="unique_transaction_ref_per_connector"
            ),
            models.CheckConstraint(
                name="session_stop_not_before_start",
                condition=Q(stopped_at__isnull=True) | Q(stopped_at__gte=F("started_at")),
            ),
            models.CheckConstraint(
                name="session_meter_stop_not_below_start",
                condition=Q(meter_stop_wh__isnull=True) | Q(meter_stop_wh__gte=F("meter_start_wh")),
            ),
            models.CheckConstraint(name="session_meter_start_not_negative", condition=Q(meter_start_wh__gte=0)),
            models.CheckConstraint(name="session_energy_not_negative", condition=Q(energy_wh__gte=0)),
            models.CheckConstraint(
                name="session_completed_has_stop",
                condition=Q(state="active") | (Q(stopped_at__isnull=False) & Q(meter_stop_wh__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return _("Session %(id)s on %(connector)s") % {"id": self.pk, "connector": self.connector}

    @property
    def energy_kwh(self) -> Decimal:
        return self.energy_wh / 1000

    @property
    def duration(self):
        return (self.stopped_at - self.started_at) if self.stopped_at else None


class MeterSample(models.Model):
    """One reading of a session's meter; the energy register is cumulative (Wh)."""

    OWNER_PATH = "session__operator"

    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), on_delete=models.CASCADE,
                                related_name="samples")
    taken_at = models.DateTimeField(_("taken at"))
    energy_wh = models.DecimalField(_("energy wh"), max_digits=15, decimal_places=3)
    power_w = models.DecimalField(_("power w"), max_digits=10, decimal_places=1, null=True, blank=True)
    current_a = models.DecimalField(_("current a"), max_digits=7, decimal_places=2, null=True, blank=True)
    soc_percent = models.PositiveSmallIntegerField(
        _("soc percent"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("meter sample")
        verbose_name_plural = _("meter samples")
        ordering = ["session", "taken_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "taken_at"], name="one_sample_per_session_instant"),
            models.CheckConstraint(name="sample_energy_not_negative", condition=Q(energy_wh__gte=0)),
            models.CheckConstraint(
                name="sample_power_not_negative", condition=Q(power_w__isnull=True) | Q(power_w__gte=0)
            ),
            models.CheckConstraint(
                name="sample_soc_percent", condition=Q(soc_percent__isnull=True) | Q(soc_percent__lte=100)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M:%S} {self.energy_wh} Wh"


class ConnectorStatusEvent(models.Model):
    """A status the charger reported for a connector (0: the station itself), kept as a timeline.

    Dispute evidence: what the charger said and when, next to when we heard it. A re-sent
    notification (same instant, connector and status) is stored once.
    """

    OWNER_PATH = "station__location__operator"

    station = models.ForeignKey(ChargingStation, verbose_name=_("station"), on_delete=models.CASCADE,
                                related_name="status_events")
    connector_number = models.PositiveSmallIntegerField(_("connector number"),
                                                        help_text=_("0 is the station as a whole."))
    status = models.CharField(_("status"), max_length=30)
    error_code = models.CharField(_("error code"), max_length=30, blank=True)
    info = models.CharField(_("info"), max_length=50, blank=True)
    vendor_id = models.CharField(_("vendor id"), max_length=255, blank=True)
    vendor_error_code = models.CharField(_("vendor error code"), max_length=50, blank=True)
    timestamp = models.DateTimeField(_("timestamp"), help_text=_("When the charger says the status changed."))
    received_at = models.DateTimeField(_("received at"), help_text=_("When the gateway received the notification."))

    class Meta:
        verbose_name = _("connector status event")
        verbose_name_plural = _("connector status events")
        ordering = ["station", "-timestamp"]
        indexes = [
            models.Index(fields=["station", "connector_number", "-timestamp"], name="status_event_timeline"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "connector_number", "timestamp", "status", "error_code"],
                name="one_status_event_per_instant",
            ),
        ]

    def __str__(self) -> str:
        return _("%(station)s#%(connector)s %(status)s at %(time)s") % {
            "station": self.station_id, "connector": self.connector_number, "status": self.status,
            "time": f"{self.timestamp:%Y-%m-%d %H:%M:%S}"}


class MeterPublicKey(models.Model):
    """The public key of the calibrated meter behind a station's connector (EVSE), for the time it was in
    service. A replaced meter's key keeps its row with `valid_until` set, so older sessions are still
    verified with the key of the meter that signed them. `public_key` is the DER SubjectPublicKeyInfo in
    lower-case hex (what OCMF verification takes)."""

    OWNER_PATH = "station__location__operator"

    class Source(models.TextChoices):
        CHARGER = "charger", _("Sent by the charger")
        OPERATOR = "operator", _("Entered by the operator")

    station = models.ForeignKey(ChargingStation, verbose_name=_("station"), on_delete=models.CASCADE,
                                related_name="meter_keys")
    evse_number = models.PositiveSmallIntegerField(
        _("connector / EVSE"), null=True, blank=True, help_text=_("Empty: the station's only meter (every connector).")
    )
    meter_serial = models.CharField(_("meter serial"), max_length=64, blank=True,
                                    help_text=_("The meter's serial (OCMF MS)."))
    public_key = models.CharField(_("public key"), max_length=400,
                                  help_text=_("DER public key, hex (base64 and PEM are converted)."))
    curve = models.CharField(_("curve"), max_length=32, blank=True, editable=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.OPERATOR)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True,
                                       help_text=_("Set when the meter was replaced."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("meter public key")
        verbose_name_plural = _("meter public keys")
        ordering = ["station", "evse_number", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["station", "public_key"], name="one_row_per_station_meter_key"),
            models.CheckConstraint(name="meter_key_valid_until_after_from",
                                   condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from"))),
        ]

    def __str__(self) -> str:
        return _("meter %(serial)s of %(station)s#%(evse)s") % {
            "serial": self.meter_serial or "?", "station": self.station_id, "evse": self.evse_number or "*"}


class SignedMeterValue(models.Model):
    """A signed meter reading as the charger sent it (OCPP 1.6 `SignedData`, 2.0.1 `signedMeterValue`):
    the raw data, how it was encoded, and the plain OCMF text decoded from it. Stored once per session and
    content (`digest`), so a re-sent message adds nothing."""

    OWNER_PATH = "session__operator"

    session = models.ForeignKey(ChargingSession, verbose_name=_("session"), on_delete=models.CASCADE,
                                related_name="signed_values")
    taken_at = models.DateTimeField(_("taken at"), help_text=_("The OCPP meter value's timestamp."))
    context = models.CharField(_("context"), max_length=30, blank=True,
                               help_text=_("Transaction.Begin, Transaction.End, ..."))
    format = models.CharField(_("format"), max_length=20, help_text=_("OCMF, or what 2.0.1's encodingMethod named."))
    encoding = models.CharField(_("encoding"), max_length=10,
                                help_text=_("How the data travelled: plain, hex or base64."))
    signing_method = models.CharField(_("signing method"), max_length=50, blank=True)
    signed_data = models.TextField(_("signed data"), help_text=_("Exactly as received."))
    ocmf = models.TextField(_("ocmf"), blank=True, help_text=_("The decoded OCMF record (OCMF|payload|signature)."))
    public_key = models.CharField(_("public key"), max_length=400, blank=True,
                                  help_text=_("The key sent with the reading, hex DER."))
    digest = models.CharField(_("digest"), max_length=64, editable=False)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("signed meter value")
        verbose_name_plural = _("signed meter values")
        ordering = ["session", "taken_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "digest"], name="one_signed_value_per_session_content"),
        ]

    def __str__(self) -> str:
        return _("%(format)s %(context)s at %(time)s") % {
            "format": self.format, "context": self.context or _("reading"),
            "time": f"{self.taken_at:%Y-%m-%d %H:%M:%S}"}


class MeterSignatureCheck(models.Model):
    """What the meter's signatures prove about a completed session: verified (begin and end signed by the
    station's meter, same transaction, energy as billed), invalid (with the reasons) or unsigned."""

    OWNER_PATH = "session__operator"

    class Status(models.TextChoices):
        VERIFIED = "verified", _("Verified")
        INVALID = "invalid", _("Invalid")
        UNSIGNED = "unsigned", _("Unsigned")

    session = models.OneToOneField(ChargingSession, verbose_name=_("session"), on_delete=models.CASCADE,
                                   related_name="signature_check")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reasons = models.JSONField(_("reasons"), default=list,
                               help_text=_('[{"code": ..., "detail": ...}] that make it invalid'))
    notes = models.JSONField(_("notes"), default=list, help_text=_("warnings that do not (time not synchronized, ...)"))
    meter_serial = models.CharField(_("meter serial"), max_length=64, blank=True)
    meter_key = models.ForeignKey(MeterPublicKey, verbose_name=_("meter key"), null=True, blank=True,
                                  on_delete=models.PROTECT,
                                  related_name="checks")
    begin_wh = models.DecimalField(_("begin wh"), max_digits=15, decimal_places=3, null=True, blank=True)
    end_wh = models.DecimalField(_("end wh"), max_digits=15, decimal_places=3, null=True, blank=True)
    resolution_wh = models.DecimalField(_("resolution wh"), max_digits=15, decimal_places=3, null=True, blank=True)
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)

    class Meta:
        verbose_name = _("meter signature check")
        verbose_name_plural = _("meter signature checks")
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return _("signatures of session %(session)s: %(status)s") % {"session": self.session_id, "status": self.status}

    @property
    def signed_energy_wh(self) -> Decimal | None:
        if self.begin_wh is None or self.end_wh is None:
            return None
        return self.end_wh - self.begin_wh
