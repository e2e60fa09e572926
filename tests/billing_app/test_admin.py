"""Tariff admin: inlines with form errors for bad input, OCPI import/export, operator scoping."""
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing_app.models import Tariff
from billing_app.pricing.ocpi import loads
from tests import factories

DEMO_TARIFFS = Path(__file__).resolve().parents[2] / "billing_app" / "demo_tariffs"


@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


def _tariff_form(**overrides):
    data = {
        "ocpi_id": "NEW-1", "country_code": "DE", "party_id": "VOL", "name": "New", "currency": "EUR", "type": "",
        "parking_grace_minutes": 0,
        "alt_texts-TOTAL_FORMS": 0, "alt_texts-INITIAL_FORMS": 0,
        "elements-TOTAL_FORMS": 1, "elements-INITIAL_FORMS": 0,
        "elements-0-position": 0, "elements-0-start_time": "07:30", "elements-0-end_time": "22:00",
        "assignments-TOTAL_FORMS": 0, "assignments-INITIAL_FORMS": 0,
    }
    data.update(overrides)
    return data


def test_staff_creates_a_tariff_for_their_operator(staff_client, operator):
    response = staff_client.post(reverse("admin:billing_app_tariff_add"), _tariff_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    tariff = Tariff.objects.get(ocpi_id="NEW-1")
    assert tariff.operator == operator
    assert tariff.elements.get().start_time == "07:30"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "ZZZ"}, "currency"),
        ({"min_price_excl_vat": "-1"}, "min_price_excl_vat"),
        ({"start_date_time_0": "2026-02-01", "start_date_time_1": "00:00",
          "end_date_time_0": "2026-01-01", "end_date_time_1": "00:00"}, "end_date_time"),
    ],
)
def test_bad_tariff_input_gets_form_errors(staff_client, overrides, field):
    response = staff_client.post(reverse("admin:billing_app_tariff_add"), _tariff_form(**overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Tariff.objects.exists()


def test_malformed_time_in_an_element_is_an_inline_error(staff_client):
    response = staff_client.post(reverse("admin:billing_app_tariff_add"),
                                 _tariff_form(**{"elements-0-start_time": "7h30"}))
    assert response.status_code == 200
    element_errors = response.context["inline_admin_formsets"][1].formset.errors[0]
    assert "start_time" in element_errors
    assert not Tariff.objects.exists()


def test_negative_component_price_is_an_inline_error(staff_client, operator):
    element = factories.TariffElementFactory(tariff__operator=operator)
    response = staff_client.post(
        reverse("admin:billing_app_tariffelement_change", args=[element.pk]),
        {"position": 0, "price_components-TOTAL_FORMS": 1, "price_components-INITIAL_FORMS": 0,
         "price_components-0-position": 0, "price_components-0-type": "ENERGY", "price_components-0-price": "-0.10",
         "price_components-0-step_size": 1},
    )
    assert response.status_code == 200
    assert "price" in response.context["inline_admin_formsets"][0].formset.errors[0]
    assert not element.price_components.exists()


def test_import_view_creates_the_tariff(staff_client, operator):
    upload = SimpleUploadedFile("t.json", (DEMO_TARIFFS / "voltara-standard.json").read_bytes())
    response = staff_client.post(reverse("admin:billing_app_tariff_import"), {"operator": operator.pk, "file": upload})
    assert response.status_code == 302
    assert Tariff.objects.get(ocpi_id="VOLTARA-STANDARD").operator == operator


def test_import_view_bad_file_is_a_form_error(staff_client, operator):
    upload = SimpleUploadedFile("t.json", b'{"id": "X", "currency": "EUR"}')
    response = staff_client.post(reverse("admin:billing_app_tariff_import"), {"operator": operator.pk, "file": upload})
    assert response.status_code == 200
    assert "file" in response.context["form"].errors
    assert not Tariff.objects.exists()


def test_import_view_imports_for_the_staffs_own_operator(staff_client, operator, other_operator):
    """Operator staff pick no operator (the field is not there); a forged one in the POST changes nothing."""
    page = staff_client.get(reverse("admin:billing_app_tariff_import"))
    assert "operator" not in page.context["form"].fields
    assert other_operator.name not in page.content.decode()
    upload = SimpleUploadedFile("t.json", (DEMO_TARIFFS / "voltara-standard.json").read_bytes())
    response = staff_client.post(reverse("admin:billing_app_tariff_import"),
                                 {"operator": other_operator.pk, "file": upload})
    assert response.status_code == 302
    assert Tariff.objects.get().operator == operator


def test_import_view_asks_a_superuser_for_the_operator(client, operator, other_operator):
    client.force_login(factories.SupportFactory(is_superuser=True))
    form = client.get(reverse("admin:billing_app_tariff_import")).context["form"]
    assert set(form.fields["operator"].queryset) == {operator, other_operator}
    upload = SimpleUploadedFile("t.json", (DEMO_TARIFFS / "voltara-standard.json").read_bytes())
    response = client.post(reverse("admin:billing_app_tariff_import"), {"file": upload})
    assert response.status_code == 200 and "operator" in response.context["form"].errors


def test_export_action_downloads_ocpi_json(staff_client, operator):
    tariff = factories.TariffFactory(operator=operator, ocpi_id="EXP-1")
    factories.PriceComponentFactory(element__tariff=tariff)
    response = staff_client.post(reverse("admin:billing_app_tariff_changelist"),
                                 {"action": "export_ocpi", "_selected_action": [tariff.pk]})
    assert response["Content-Type"] == "application/json"
    data = loads(response.content)
    assert data["id"] == "EXP-1"
    assert data["elements"][0]["price_components"][0] == {"type": "ENERGY", "price": Decimal("0.39"),
                                                          "vat": 19, "step_size": 1}


def test_other_operators_tariffs_are_invisible(staff_client, other_operator):
    foreign = factories.TariffFactory(operator=other_operator, name="Foreign tariff")
    listing = staff_client.get(reverse("admin:billing_app_tariff_changelist"))
    assert b"Foreign tariff" not in listing.content
    detail = staff_client.get(reverse("admin:billing_app_tariff_change", args=[foreign.pk]))
    assert detail.status_code == 302
    element = factories.TariffElementFactory(tariff=foreign)
    assert staff_client.get(reverse("admin:billing_app_tariffelement_change", args=[element.pk])).status_code == 302


def test_cdr_export_action_is_scoped(staff_client, operator, other_operator):
    from datetime import timedelta

    from billing_app.models import SessionCharge

    def priced(op, ref):
        session = factories.ChargingSessionFactory(connector__station__location__operator=op, transaction_ref=ref)
        session.state, session.meter_stop_wh = "completed", Decimal(2000)
        session.stopped_at = session.started_at + timedelta(hours=1)
        session.save()
        return SessionCharge.objects.create(
            session=session, tariff_snapshot_json='{"id": "T", "country_code": "DE", "party_id": "VOL"}',
            currency="EUR", total_excl_vat=Decimal("1.00"), total_vat=Decimal("0.19"), total_incl_vat=Decimal("1.19"),
            total_energy_kwh=Decimal(1), total_time_hours=Decimal(1), total_parking_hours=Decimal(0),
            breakdown={k: {"excl_vat": "0", "incl_vat": "0"} for k in (
                "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
                "total_reservation_cost")} | {"total_energy": "1", "total_time": "1", "total_parking_time": "0"},
        )

    own, foreign = priced(operator, "own"), priced(other_operator, "foreign")
    response = staff_client.post(reverse("admin:billing_app_sessioncharge_changelist"),
                                 {"action": "export_cdr", "_selected_action": [own.pk, foreign.pk]})
    data = loads(response.content)
    assert data["session_id"] == str(own.session_id)


def test_invoice_currency_filter_offers_only_the_staffs_operators_currencies(staff_client, operator, other_operator):
    other_operator.default_currency = "GBP"
    other_operator.save()
    response = staff_client.get(reverse("admin:billing_app_invoice_changelist"))
    choices = [c["display"] for spec in response.context["cl"].filter_specs if spec.title == "currency"
               for c in spec.choices(response.context["cl"])]
    assert operator.default_currency in choices and "GBP" not in choices
    assert staff_client.get(reverse("admin:billing_app_invoice_changelist"), {"currency": "GBP"}).status_code == 200


def test_admin_shows_amounts_and_rates_formatted_not_raw_decimals(staff_client, operator):
    import re

    from billing_app.models import PriceComponent, TariffElement

    tariff = factories.energy_tariff(operator, price="0.39", vat="19")
    element = TariffElement.objects.filter(tariff=tariff).first()
    PriceComponent.objects.filter(element=element).update(price=Decimal("80.000000"))
    page = staff_client.get(reverse("admin:billing_app_tariffelement_change", args=[element.pk])).content.decode()
    assert 'value="80"' in page and "80.000000" not in page
    page = staff_client.get(reverse("admin:billing_app_tariff_change", args=[tariff.pk])).content.decode()
    assert "ENERGY €80.00" in page
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator)
    from billing_app.models import SessionCharge

    SessionCharge.objects.create(
        session=session, tariff_snapshot_json="{}", currency="EUR", total_excl_vat=Decimal("16.69"),
        total_vat=Decimal("3.17"), total_incl_vat=Decimal("19.86"), total_energy_kwh=Decimal("42.123456"),
        total_time_hours=Decimal(1), total_parking_hours=Decimal(0), breakdown={"lines": []})
    page = staff_client.get(reverse("admin:billing_app_sessioncharge_changelist")).content.decode()
    assert "€19.86" in page and "42.123\xa0kWh" in page and not re.search(r"\d\.\d{5,}", page)


def test_tariff_page_is_compact_and_has_no_null_or_list_boxes(staff_client, operator):
    tariff = factories.TariffFactory(operator=operator, name="Voltara Standard with a rather long name for a tariff")
    factories.TariffElementFactory(tariff=tariff, day_of_week=["SATURDAY", "SUNDAY"])
    page = staff_client.get(reverse("admin:billing_app_tariff_change", args=[tariff.pk])).content.decode()
    assert ">null</textarea>" not in page and ">[]</textarea>" not in page and "Day of week: []" not in page
    assert 'type="checkbox" name="elements-0-day_of_week" value="SATURDAY"' in page
    assert 'value="SATURDAY" class="inline" id="id_elements-0-day_of_week_5" checked' in page
    assert 'value="MONDAY" class="inline" id="id_elements-0-day_of_week_0">' in page  # not ticked
    assert 'type="time" name="elements-0-start_time"' in page
    assert "collapse" in page and "Restrictions (when this element applies)" in page
    assert 'name="operator"' not in page  # staff edit their own operator's tariffs only
    assert 'style="width: 32em"' in page  # the name readable whole


def test_ticked_days_are_stored_in_ocpi_order_and_an_empty_energy_mix_stays_none(staff_client, operator):
    response = staff_client.post(reverse("admin:billing_app_tariff_add"), _tariff_form(**{
        "elements-0-day_of_week": ["SUNDAY", "MONDAY"], "energy_mix": ""}))
    assert response.status_code == 302, response.context["adminform"].form.errors
    tariff = Tariff.objects.get(ocpi_id="NEW-1")
    assert tariff.elements.get().day_of_week == ["MONDAY", "SUNDAY"]
    assert tariff.energy_mix is None


def test_tariff_page_in_german(client, operator):
    staff = factories.OperatorStaffFactory(operator=operator, language="de")
    client.force_login(staff)
    tariff = factories.TariffFactory(operator=operator)
    factories.TariffElementFactory(tariff=tariff)
    page = client.get(reverse("admin:billing_app_tariff_change", args=[tariff.pk])).content.decode()
    assert "Einschränkungen" in page and "Samstag" in page and "Preisgrenzen" in page
