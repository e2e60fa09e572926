"""Tariffs (the OCPI 2.2.1 Tariff module as tables), where they apply, and what each session cost.

Tariff prices are rates (per kWh, per hour, per session) kept as decimals with the tariff's
currency beside them, excl. VAT with the VAT rate on each component, as OCPI has them. Amounts a
driver owes live in `SessionCharge`, priced by `billing_app.pricing` and rounded per line.
"""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from billing_app.money import format_money
from billing_app.pricing.ocpi import loads
from sessions_app.models import (
    CURRENCY_CHOICES,
    ChargingSession,
    ChargingStation,
    Connector,
    Location,
    Operator,
    User,
)

NON_NEGATIVE = [MinValueValidator(Decimal(0))]
HHMM = RegexValidator(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", _("Use a 24-hour time, HH:MM (e.g. 07:30)."))


def _decimal(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True, validators=NON_NEGATIVE,
                               **kwargs)


class DriverGroup(models.Model):
    """Drivers who get their own tariff (members, fleet, staff) instead of the ad-hoc one."""

    OWNER_PATH = "operator"

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.CASCADE,
                                 related_name="driver_groups")
    name = models.CharField(_("name"), max_length=80)
    drivers = models.ManyToManyField(User, verbose_name=_("drivers"), blank=True, related_name="driver_groups")

    class Meta:
        verbose_name = _("driver group")
        verbose_name_plural = _("driver groups")
        ordering = ["operator", "name"]
        constraints = [models.UniqueConstraint(fields=["operator", "name"], name="unique_driver_group_name")]

    def __str__(self) -> str:
        return self.name


class Tariff(models.Model):
    OWNER_PATH = "operator"

    class Type(models.TextChoices):
        AD_HOC_PAYMENT = "AD_HOC_PAYMENT", _("Ad hoc payment")
        PROFILE_CHEAP = "PROFILE_CHEAP", _("Profile: cheap")
        PROFILE_FAST = "PROFILE_FAST", _("Profile: fast")
        PROFILE_GREEN = "PROFILE_GREEN", _("Profile: green")
        REGULAR = "REGULAR", _("Regular")

    operator = models.ForeignKey(Operator, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="tariffs")
    ocpi_id = models.CharField(_("OCPI id"), max_length=36, validators=[RegexValidator(r"^[A-Za-z0-9._-]+$")])
    country_code = models.CharField(_("country code"), max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$")])
    party_id = models.CharField(_("party id"), max_length=3, validators=[RegexValidator(r"^[A-Z0-9]{3}$")])
    name = models.CharField(_("name"), max_length=120, help_text=_("Shown to operators; drivers see the alt text."))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices, blank=True)
    tariff_alt_url = models.URLField(_("tariff alt url"), blank=True)
    min_price_excl_vat = _decimal(verbose_name=_("min price excl. VAT"))
    min_price_incl_vat = _decimal(verbose_name=_("min price incl. VAT"))
    max_price_excl_vat = _decimal(verbose_name=_("max price excl. VAT"))
    max_price_incl_vat = _decimal(verbose_name=_("max price incl. VAT"))
    start_date_time = models.DateTimeField(_("start date time"), null=True, blank=True, help_text=_("valid from (UTC)"))
    end_date_time = models.DateTimeField(_("end date time"), null=True, blank=True,
                                         help_text=_("valid until, exclusive (UTC)"))
    energy_mix = models.JSONField(_("energy mix"), null=True, blank=True,
                                  help_text=_("OCPI EnergyMix object, kept as given"))
    parking_grace_minutes = models.PositiveSmallIntegerField(
        _("parking grace minutes"), default=0,
        help_text=_("Idle minutes after charging ends that are not charged as parking (evbilling extension).")
    )
    last_updated = models.DateTimeField(_("last updated"), auto_now=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["operator", "name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "ocpi_id"], name="unique_tariff_ocpi_id_per_operator"),
            models.CheckConstraint(
                name="tariff_validity_ordered",
                condition=Q(start_date_time__isnull=True) | Q(end_date_time__isnull=True)
                | Q(end_date_time__gt=F("start_date_time")),
            ),
            models.CheckConstraint(
                name="tariff_min_not_above_max",
                condition=Q(min_price_excl_vat__isnull=True) | Q(max_price_excl_vat__isnull=True)
                | Q(max_price_excl_vat__gte=F("min_price_excl_vat")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    def clean(self):
        errors = {}
        if self.start_date_time and self.end_date_time and self.end_date_time <= self.start_date_time:
            errors["end_date_time"] = _("The end must be after the start.")
        for kind in ("excl", "incl"):
            low, high = getattr(self, f"min_price_{kind}_vat"), getattr(self, f"max_price_{kind}_vat")
            if low is not None and high is not None and high < low:
                errors[f"max_price_{kind}_vat"] = _("The max price cannot be below the min price.")
        for kind in ("min", "max"):
            if getattr(self, f"{kind}_price_incl_vat") is not None and getattr(self, f"{kind}_price_excl_vat") is None:
                errors[f"{kind}_price_excl_vat"] = _("OCPI needs the excl. VAT price whenever incl. VAT is given.")
        if errors:
            raise ValidationError(errors)


class TariffAltText(models.Model):
    """Multilingual text shown to drivers (OCPI DisplayText)."""

    OWNER_PATH = "tariff__operator"

    tariff = models.ForeignKey(Tariff, verbose_name=_("tariff"), on_delete=models.CASCADE, related_name="alt_texts")
    language = models.CharField(_("language"), max_length=2,
                                validators=[RegexValidator(r"^[a-z]{2}$", _("ISO 639-1, e.g. en."))])
    text = models.CharField(_("text"), max_length=512)

    class Meta:
        verbose_name = _("tariff alt text")
        verbose_name_plural = _("tariff alt texts")
        ordering = ["tariff", "pk"]

    def __str__(self) -> str:
        return f"{self.language}: {self.text}"


class TariffElement(models.Model):
    """One OCPI TariffElement: its restrictions are fields here (OCPI has at most one set)."""

    OWNER_PATH = "tariff__operator"

    class Reservation(models.TextChoices):
        RESERVATION = "RESERVATION", _("Reservation")
        RESERVATION_EXPIRES = "RESERVATION_EXPIRES", _("Reservation expires")

    tariff = models.ForeignKey(Tariff, verbose_name=_("tariff"), on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveSmallIntegerField(_("position"), default=0,
                                                help_text=_("Order matters: the first match wins."))
    has_restrictions = models.BooleanField(
        _("has restrictions"), default=False, editable=False,
        help_text=_("Whether OCPI carried a restrictions object (kept for round trips).")
    )
    start_time = models.CharField(_("start time"), max_length=5, blank=True, validators=[HHMM])
    end_time = models.CharField(_("end time"), max_length=5, blank=True, validators=[HHMM])
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True, help_text=_("exclusive"))
    min_kwh = _decimal(verbose_name=_("min kWh"))
    max_kwh = _decimal(verbose_name=_("max kWh"), help_text=_("exclusive"))
    min_current = _decimal(verbose_name=_("min current (A)"))
    max_current = _decimal(verbose_name=_("max current (A)"), help_text=_("exclusive"))
    min_power = _decimal(verbose_name=_("min power (kW)"))
    max_power = _decimal(verbose_name=_("max power (kW)"), help_text=_("exclusive"))
    min_duration = models.PositiveIntegerField(_("min duration"), null=True, blank=True, help_text=_("seconds"))
    max_duration = models.PositiveIntegerField(_("max duration"), null=True, blank=True,
                                               help_text=_("seconds, exclusive"))
    day_of_week = models.JSONField(_("day of week"), default=list, blank=True,
                                   help_text=_('e.g. ["MONDAY", "TUESDAY"]'))
    reservation = models.CharField(_("reservation"), max_length=20, choices=Reservation.choices, blank=True)

    DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
    RESTRICTION_FIELDS = (
        "start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh", "min_current", "max_current",
        "min_power", "max_power", "min_duration", "max_duration", "day_of_week", "reservation",
    )

    class Meta:
        verbose_name = _("tariff element")
        verbose_name_plural = _("tariff elements")
        ordering = ["tariff", "position", "pk"]

    def __str__(self) -> str:
        return _("element %(position)s of %(tariff)s") % {"position": self.position, "tariff": self.tariff}

    def clean(self):
        errors = {}
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            errors["end_date"] = _("The end date must be after the start date.")
        for low, high in (("min_kwh", "max_kwh"), ("min_current", "max_current"), ("min_power", "max_power"),
                          ("min_duration", "max_duration")):
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, high) < getattr(
                    self, low):
                errors[high] = _("%(high)s cannot be below %(low)s.") % {"high": high, "low": low}
        if self.start_time and self.end_time and self.start_time == self.end_time:
            errors["end_time"] = _("Start and end time are equal: the window would be empty.")
        if not isinstance(self.day_of_week, list) or any(d not in self.DAYS for d in self.day_of_week):
            errors["day_of_week"] = _("A list of days from %(days)s.") % {"days": ", ".join(self.DAYS)}
        if errors:
            raise ValidationError(errors)


class PriceComponent(models.Model):
    OWNER_PATH = "element__tariff__operator"

    class Type(models.TextChoices):
        ENERGY = "ENERGY", _("Energy (per kWh)")
        FLAT = "FLAT", _("Flat (per session)")
        PARKING_TIME = "PARKING_TIME", _("Parking time (per hour)")
        TIME = "TIME", _("Charging time (per hour)")

    element = models.ForeignKey(TariffElement, verbose_name=_("element"), on_delete=models.CASCADE,
                                related_name="price_components")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    type = models.CharField(_("type"), max_length=12, choices=Type.choices)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=6, validators=NON_NEGATIVE,
                                help_text=_("excl. VAT, per unit of the type"))
    vat = models.DecimalField(_("VAT %"), max_digits=6, decimal_places=3, null=True, blank=True,
                              validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
                              help_text=_("blank: no VAT applies"))
    step_size = models.PositiveIntegerField(
        _("step size"), default=1, validators=[MinValueValidator(1)],
        help_text=_("billing step: Wh for energy, seconds for time, 1 for flat"),
    )

    class Meta:
        verbose_name = _("price component")
        verbose_name_plural = _("price components")
        ordering = ["element", "position", "pk"]
        constraints = [
            models.CheckConstraint(name="price_component_price_not_negative", condition=Q(price__gte=0)),
            models.CheckConstraint(name="price_component_step_positive", condition=Q(step_size__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.price.normalize():f}" if self.price is not None else self.type


class TariffAssignment(models.Model):
    """Where a tariff applies: the operator's default, a location, a station or a connector (the most
    specific wins), optionally only for one driver group."""

    OWNER_PATH = "tariff__operator"

    tariff = models.ForeignKey(Tariff, verbose_name=_("tariff"), on_delete=models.CASCADE, related_name="assignments")
    location = models.ForeignKey(Location, verbose_name=_("location"), null=True, blank=True, on_delete=models.CASCADE)
    station = models.ForeignKey(ChargingStation, verbose_name=_("station"), null=True, blank=True,
                                on_delete=models.CASCADE)
    connector = models.ForeignKey(Connector, verbose_name=_("connector"), null=True, blank=True,
                                  on_delete=models.CASCADE)
    driver_group = models.ForeignKey(DriverGroup, verbose_name=_("driver group"), null=True, blank=True,
                                     on_delete=models.CASCADE,
                                     help_text=_("blank: everyone without a group tariff (ad hoc)"))

    class Meta:
        verbose_name = _("tariff assignment")
        verbose_name_plural = _("tariff assignments")
        constraints = [
            models.CheckConstraint(
                name="assignment_targets_at_most_one",
                condition=(Q(location__isnull=True) & Q(station__isnull=True))
                | (Q(location__isnull=True) & Q(connector__isnull=True))
                | (Q(station__isnull=True) & Q(connector__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        target = self.connector or self.station or self.location or _("operator default")
        if self.driver_group_id:
            return _("%(tariff)s at %(target)s for %(group)s") % {
                "tariff": self.tariff, "target": target, "group": self.driver_group}
        return _("%(tariff)s at %(target)s") % {"tariff": self.tariff, "target": target}

    def clean(self):
        targets = [t for t in (self.location, self.station, self.connector) if t is not None]
        if len(targets) > 1:
            raise ValidationError(_("Choose one of location, station or connector (or none for the operator default)."))
        if not hasattr(self, "tariff"):
            return
        operator_id = self.tariff.operator_id
        owners = {
            "location": self.location.operator_id if self.location else None,
            "station": self.station.location.operator_id if self.station else None,
            "connector": self.connector.station.location.operator_id if self.connector else None,
            "driver_group": self.driver_group.operator_id if self.driver_group else None,
        }
        errors = {f: _("Belongs to another operator than the tariff.") for f, o in owners.items()
                  if o is not None and o != operator_id}
        if errors:
            raise ValidationError(errors)


class SessionCharge(models.Model):
    """What a completed session cost, priced once, with the tariff it was priced with frozen beside
    it (OCPI JSON) so re-pricing and disputes see exactly what the driver saw."""

    OWNER_PATH = "session__operator"

    session = models.OneToOneField(ChargingSession, verbose_name=_("session"), on_delete=models.PROTECT,
                                   related_name="charge")
    tariff = models.ForeignKey(Tariff, verbose_name=_("tariff"), null=True, on_delete=models.SET_NULL,
                               related_name="charges")
    tariff_snapshot_json = models.TextField(_("tariff snapshot json"),
                                            help_text=_("the OCPI tariff as it was when the session started (JSON)"))
    currency = models.CharField(_("currency"), max_length=3)
    total_excl_vat = models.DecimalField(_("total excl vat"), max_digits=14, decimal_places=2)
    total_vat = models.DecimalField(_("total vat"), max_digits=14, decimal_places=2)
    total_incl_vat = models.DecimalField(_("total incl vat"), max_digits=14, decimal_places=2)
    total_energy_kwh = models.DecimalField(_("total energy kwh"), max_digits=12, decimal_places=3)
    total_time_hours = models.DecimalField(_("total time hours"), max_digits=10, decimal_places=4)
    total_parking_hours = models.DecimalField(_("total parking hours"), max_digits=10, decimal_places=4)
    breakdown = models.JSONField(_("breakdown"),
                                 help_text=_("the pricing engine's breakdown: totals and per-period lines"))
    priced_at = models.DateTimeField(_("priced at"), auto_now_add=True)

    class Meta:
        verbose_name = _("session charge")
        verbose_name_plural = _("session charges")
        ordering = ["-priced_at"]
        indexes = [models.Index(fields=["-priced_at", "-id"], name="charge_priced")]
        constraints = [
            models.CheckConstraint(name="charge_not_negative",
                                   condition=Q(total_excl_vat__gte=0) & Q(total_vat__gte=0)),
        ]

    def __str__(self) -> str:
        return _("%(total)s for session %(session)s") % {
            "total": format_money(self.total_incl_vat, self.currency), "session": self.session_id}

    @property
    def tariff_snapshot(self) -> dict:
        """The frozen OCPI tariff, numbers exact (Decimal)."""

        return loads(self.tariff_snapshot_json)
