"""The admin's filter sidebars offer operator staff only their own operator's rows (issue 21 item 9): the
rows of every changelist were scoped, the choices of its filters were not. Checked on every registered
changelist that has filters, by the text of the page and by each filter's choices."""
import pytest
from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter
from django.contrib.admin.utils import reverse_field_path
from django.urls import reverse

from billing_app.models import Plan
from ocpi_app.models import Partner
from sessions_app.models import Location
from sessions_app.selectors import scope_to_user
from tests import factories

pytestmark = pytest.mark.django_db

FOREIGN = ("Brightline", "Foreign Depot", "Foreign Plan", "Foreign Roaming", "FOREIGN-VENDOR")


@pytest.fixture
def two_operators(operator, other_operator):
    for owner, prefix in ((operator, "Own"), (other_operator, "Foreign")):
        station = factories.ChargingStationFactory(location__operator=owner, location__name=f"{prefix} Depot",
                                                   vendor=f"{prefix.upper()}-VENDOR")
        factories.ChargingSessionFactory(connector__station=station)
        Plan.objects.create(operator=owner, name=f"{prefix} Plan", fee_excl_vat="9.00", currency="EUR")
        Partner.objects.create(operator=owner, name=f"{prefix} Roaming")
    return operator, other_operator


def changelists_with_filters():
    for model, model_admin in admin.site._registry.items():
        if model_admin.list_filter and hasattr(model, "OWNER_PATH"):
            yield model, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _check_filter_choices(spec, model, user) -> list[str]:
    """Every choice of a relation filter (and of a related column's values) is a row `user` may see."""
    if isinstance(spec, RelatedFieldListFilter):
        related = spec.field.remote_field.model
        if hasattr(related, "OWNER_PATH"):
            allowed = set(scope_to_user(related._default_manager.all(), user).values_list("pk", flat=True))
            return [f"{spec.field_path}={pk}" for pk, _ in spec.lookup_choices if pk not in allowed]
    if isinstance(spec, AllValuesFieldListFilter):
        parent, _ = reverse_field_path(model, spec.field_path)
        if hasattr(parent, "OWNER_PATH"):
            allowed = set(scope_to_user(parent._default_manager.all(), user).values_list(spec.field.name, flat=True))
            return [f"{spec.field_path}={value}" for value in spec.lookup_choices if value not in allowed]
    return []


@pytest.mark.parametrize("role", ["staff", "support"])
def test_filter_choices_never_name_another_operator(client, two_operators, role):
    operator, _ = two_operators
    if role == "staff":
        user = factories.OperatorStaffFactory(operator=operator)
    else:
        user = factories.SupportFactory()
        user.supported_operators.add(operator)
    client.force_login(user)
    checked, leaks = 0, []
    for model, url in changelists_with_filters():
        response = client.get(url)
        if response.status_code != 200:
            continue
        checked += 1
        page = response.content.decode()
        leaks += [f"{url}: {name}" for name in FOREIGN if name in page]
        for spec in response.context["cl"].filter_specs:
            leaks += [f"{url}: {choice}" for choice in _check_filter_choices(spec, model, user)]
    assert checked >= 20
    assert not leaks, leaks


def test_superuser_filters_offer_every_operator(client, two_operators):
    client.force_login(factories.SupportFactory(is_superuser=True))
    page = client.get(reverse("admin:sessions_app_chargingstation_changelist")).content.decode()
    assert "Foreign Depot" in page and "Own Depot" in page and "Brightline" in page


def test_staff_filter_by_own_location_still_filters(client, two_operators):
    operator, _ = two_operators
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    own = Location.objects.get(name="Own Depot")
    url = reverse("admin:sessions_app_chargingstation_changelist")
    assert "Own Depot" in client.get(url).content.decode()
    filtered = client.get(url, {"location__id__exact": own.pk})
    assert [s.location for s in filtered.context["cl"].result_list] == [own]
