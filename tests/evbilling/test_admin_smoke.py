"""Every admin page a demo login can reach renders: the login page for strangers, and each
changelist, add and change page for the superuser, operator staff and support staff."""
import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from sessions_app.models import User


@pytest.fixture
def demo(db):
    call_command("load_demo", days=2, no_progress=True)


def test_login_page_and_login_work_for_strangers(client, demo):
    assert client.get(reverse("admin:login")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302
    response = client.post(reverse("admin:login"), {"username": "operator", "password": "operator",
                                                    "next": "/admin/"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize(("username", "languages"), [
    ("admin", ["en", "de"]), ("operator", ["en", "de"]), ("support", ["en"]),
])
def test_every_admin_page_renders(client, demo, username, languages):
    """In each language the person reads (one demo load per person: it is most of the test's time)."""
    user = User.objects.get(username=username)
    for language in languages:
        User.objects.filter(pk=user.pk).update(language=language)
        client.force_login(user)
        _visit_every_page(client, user, language)


def _visit_every_page(client, user, language):
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert index.content.decode().count(f'<html lang="{language}"') == 1
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if language != "en" and opts.app_label == "djstripe":
            continue  # dj-stripe's own pages: their German is Django's and dj-stripe's, checked once in English
        name = f"admin:{opts.app_label}_{opts.model_name}"
        listing = client.get(reverse(f"{name}_changelist"))
        assert listing.status_code in (200, 302, 403), f"{name} changelist ({language}): {listing.status_code}"
        try:
            add_url = reverse(f"{name}_add")
        except NoReverseMatch:
            add_url = None
        if add_url:
            assert client.get(add_url).status_code in (200, 302, 403), f"{name} add ({language})"
        first = model_admin.get_queryset(type("R", (), {"user": user})()).first()
        if first is not None:
            response = client.get(reverse(f"{name}_change", args=[first.pk]))
            assert response.status_code in (200, 302, 403), f"{name} change ({language}): {response.status_code}"
