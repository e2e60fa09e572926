"""A walk through every page of every role in chromium, in English and in German (issue 21).

Each role signs in once through the real form: the driver, a support agent, operator staff, a superuser and a
fleet manager. From the role's home page and a few seeds (the chosen session's pages) the walk follows every
link of the role's own area, one page per URL shape (`/portal/sessions/<id>/` once), and fetches what the pages
offer for download (PDF, CSV, XML, images). Then the account switches to German with the header's switcher and
the same pages are walked again at phone width.

Every page: no server error, no raw Decimal (`\\d\\.\\d{5,}`, form fields included), the area's navigation and one
sign-out button, `<html lang>` of the language. English, desktop: axe-core finds no serious or critical WCAG 2.x
A/AA violation. German, 375 px: axe-core again outside the admin (colour contrast aside: what scrolls is a
focusable region), nothing scrolls sideways, and no English key string of tests/e2e/german_keys.py is left. One
session's start is the same local time on every page it appears on: the driver's dashboard, list, detail and
dispute form, the support view, the admin, the receipt PDF. Sign-out works for each role; the sign-in and password-
reset pages are checked in both languages too.

Screenshots of every page land in tests/e2e/artifacts/<role>-<lang>/ (README there). Problems are gathered
and reported together, so one page's failure never hides another's. The admin's generic pages (changelist,
change form, add form) are run through axe-core once per kind; the admin pages walked are those staff work with
(`ADMIN_USED`), and the superuser walks its home, the sessions list, the chosen session's page and the admin pages
operator staff did not see (same templates, and the suite's time is counted)."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pprint import pformat
from urllib.parse import urlsplit

import pytest

from billing_app.invoicing import delivery_suppressed
from billing_app.invoicing.billing_run import billing_run
from billing_app.models import BillingAccount
from disputes_app import services as dispute_services
from sessions_app.local_time import format_local_date, format_local_datetime, format_local_time
from sessions_app.models import IdToken
from tests import factories
from tests.billing_app.invoice_fixtures import charged_session
from tests.e2e.checks import DESKTOP, PHONE, axe_violations, page_facts, sideways_overflow, text_problems
from tests.e2e.conftest import ARTIFACTS, Shots
from tests.e2e.german_keys import GERMAN_KEYS
from tests.e2e.stories import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en_GB", "de": "de_DE"}


@dataclass(frozen=True)
class Area:
    """A part of the site with its own header: the navigation every page shows and its sign-out button."""
    name: str
    prefixes: tuple[str, ...]
    nav: str  # CSS selector of the navigation's links
    nav_links: int  # at least this many
    sign_out: str


AREAS = [
    Area("portal", ("/portal/", "/payments/", "/disputes/"), "header nav[aria-label=Portal] a", 8,
         "header form.signout button"),
    Area("support", ("/support/",), "header nav a", 4, "header form.signout button"),
    Area("fleet", ("/fleet/",), "header nav a", 5, "header form.signout button"),
    Area("print sheet", ("/admin/guests_app/guestsession/qr/",), "html", 0, ""),  # stickers, no header
    Area("admin", ("/admin/",), "#header #site-name a", 1, "#logout-form button"),
    Area("account", ("/accounts/",), "header", 1, "header form.signout button"),
]

# Which key strings of tests/e2e/german_keys.py (helper i18n's, per page area) a German page must show in German
# and not in English, by URL; the admin's own header strings are ours.
ADMIN_KEYS = [("Log out", "Abmelden"), ("Change password", "Passwort ändern")]
ADMIN_PAGE_KEYS = [  # what helper admin's German landed with (tests/evbilling/test_admin_german_names.py)
    (r"/admin/sessions_app/chargingsession/$", [("Charging sessions", "Ladevorgänge")]),
    (r"/admin/sessions_app/chargingsession/\d+/change/$", [("Stop reason", "Beendigungsgrund"),
                                                          ("Transaction ref", "Transaktionsreferenz")]),
    (r"/admin/sessions_app/chargingstation/$", [("Charging stations", "Ladestationen")]),
    (r"/admin/sessions_app/chargingstation/\d+/change/$", [("Serial number", "Seriennummer"),
                                                          ("Firmware version", "Firmware-Version")]),
]
PAGE_KEYS = [
    (r"/(portal|payments|disputes)/", ["header", "portal"]),
    (r"/disputes/\d+/$", ["evidence"]),
    (r"/support/tickets/(\?.*)?$", ["header", "support_queue"]),
    (r"/support/tickets/\d+/$", ["header", "support_ticket", "evidence"]),
    (r"/support/guest-receipts/$", ["header", "support_guest_dispute"]),
    (r"/fleet/", ["header", "fleet"]),
    (r"/fleet/(\?.*)?$", ["fleet_dashboard"]),
    (r"/fleet/members/$", ["fleet_members"]),
    (r"/fleet/cards/$", ["fleet_cards"]),
    (r"/fleet/sessions/(\?.*)?$", ["fleet_sessions"]),
    (r"/fleet/invoices/$", ["fleet_invoices"]),
    (r"/accounts/logout/$", ["header"]),
    (r"/accounts/login/$", ["sign_in"]),
    (r"/accounts/password_reset/$", ["password_reset"]),
]


def key_pairs(url: str) -> list[tuple[str, str]]:
    if url.startswith("/admin/") and "/qr/" not in url:
        return ADMIN_KEYS + [pair for pattern, pairs in ADMIN_PAGE_KEYS if re.match(pattern, url) for pair in pairs]
    return [pair for pattern, areas in PAGE_KEYS if re.match(pattern, url) for area in areas
            for pair in GERMAN_KEYS[area]]


def untranslated(text: str, url: str) -> list[str]:
    """The key strings of the page left in English, or missing in German (the admin's header is in capitals)."""
    found = []
    flags = re.IGNORECASE if url.startswith("/admin/") else 0
    for english, german in key_pairs(url):
        if re.search(rf"(?<!\w){re.escape(english)}(?!\w)", text, flags):
            found.append(f"English left: {english!r}")
        elif not re.search(re.escape(german), text, flags):
            found.append(f"German missing: {german!r}")
    return found


SKIP = re.compile(r"/logout/|/delete/|/history/|/admin/r/|/jsi18n/|/autocomplete/|_popup=|/language/"
                  r"|^/admin/(?!analytics/|password_change/)\w+/$")  # an app's index repeats the home page's list
# The admin pages operator staff (and the superuser, support looking on) work with; the admin's technical logs
# (meter samples, status events, OCPI and webhook deliveries, audit log) and dj-stripe's own admin are left out,
# and so are the generic add forms (the custom ones, tariff import and what-if, are in).
ADMIN_USED = re.compile(r"^/admin/(analytics/|guests_app/guestsession/qr/|password_change/$"
                        r"|billing_app/tariff/import-ocpi/$|billing_app/whatifrun/add/$"
                        r"|(sessions_app/(chargingsession|chargingstation|location|connector|idtoken|company|user|operator)"
                        r"|billing_app/(tariff|plan|subscription|invoice|creditnote|payment|billingaccount|chargereview"
                        r"|whatifrun)|disputes_app/disputeticket|guests_app/guestsession)/(\d+/change/)?$)")
DOWNLOAD = re.compile(r"\.(csv|pdf|xml|pem|png|svg|json)$|/pdf/$|/live/$|/e-invoice/")
# A location's latitude and longitude keep their 6 decimals (OCPI GeoLocation): not a raw Decimal.
COORDINATE_PAGE = re.compile(r"^/admin/sessions_app/location/\d+/change/$")
COORDINATES = re.compile(r"-?\d{1,3}\.\d{6}")
RAW_DECIMAL_DE = re.compile(r"\d,\d{5,}")  # a raw Decimal localized by Django's templates


@dataclass
class Role:
    name: str
    username: str
    home: str
    seeds: list[str]
    within: tuple[str, ...]  # the path prefixes this role's walk follows
    outside: tuple[str, ...] = ()  # ... except these
    hop: tuple[str, ...] = ()  # pages it opens from its own but does not walk on from (support: the admin)
    start_on: list[str] = field(default_factory=list)  # pages that show the chosen session's start
    shows: dict[str, dict[str, str]] = field(default_factory=dict)  # url -> language -> text the page shows


def _area(path: str) -> Area | None:
    return next((a for a in AREAS if path.startswith(a.prefixes)), None)


def _shape(url: str) -> str:
    """A URL's shape: its path with ids as `#`, and the names of its query parameters."""
    parts = urlsplit(url)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return re.sub(r"\d+", "#", parts.path) + ("?" + "&".join(keys) if keys else "")


def _axe_kind(url: str) -> str:
    """The admin's generic pages share their templates: one axe run per kind is enough."""
    shape = _shape(url)
    if re.fullmatch(r"/admin/\w+/\w+/", shape):
        return "admin changelist"
    if re.fullmatch(r"/admin/\w+/\w+/#/change/", shape):
        return "admin change form"
    if re.fullmatch(r"/admin/\w+/\w+/add/", shape):
        return "admin add form"
    return shape


def _slug(url: str) -> str:
    return re.sub(r"[^\w.-]+", "-", url.strip("/")).strip("-")[:80] or "home"


class Walk:
    """One role's walk in one browser page; problems gathered per page."""

    def __init__(self, page, role: Role, base: str, started: dict[str, str], shared: dict[str, set]):
        self.page, self.role, self.base, self.started, self.shared = page, role, base, started, shared
        self.problems: dict[str, list] = {}
        self.pages: list[str] = []
        self.downloads: dict[str, bytes] = {}

    def note(self, where: str, problem) -> None:
        self.problems.setdefault(where, []).append(problem)

    def links(self) -> list[str]:
        found = []
        for href in self.page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"):
            if not href.startswith(self.base):
                continue
            url = href[len(self.base):].split("#")[0]
            if url.startswith("/admin/"):
                url = url.split("?")[0]  # the admin's filters and sorting show the same page
                if not ADMIN_USED.match(url):
                    continue
            elif "?" in url:
                continue  # a filter of a page the walk sees anyway
            if (url.startswith(self.role.within + self.role.hop) and not url.startswith(self.role.outside)
                    and not SKIP.search(url)):
                found.append(url)
        return found

    def crawl(self, shot: Shots) -> None:
        """English, desktop width: find the pages by following links, check each, run axe-core on it."""
        queue, shapes = [self.role.home, *self.role.seeds], set()
        while queue:
            url = queue.pop(0)
            shape = _shape(url)
            if shape in shapes or (url not in self.role.seeds and shape in self.shared["admin seen"]):
                continue
            shapes.add(shape)
            if not self.visit(url, "en", shot):
                continue
            self.pages.append(url)
            if url.startswith("/admin/") and self.role.name == "operator":
                self.shared["admin seen"].add(shape)
            if _axe_kind(url) not in self.shared["axe"]:
                self.shared["axe"].add(_axe_kind(url))
                for violation in axe_violations(self.page):
                    self.note(f"en {url}", violation)
            if url.startswith(self.role.within):
                queue.extend(link for link in self.links() if _shape(link) not in shapes)

    def visit(self, url: str, lang: str, shot: Shots) -> bool:
        """Open a page and check what every page must have; False when it is not an HTML page of the role."""
        where = f"{lang} {url}"
        if DOWNLOAD.search(urlsplit(url).path):
            if lang == "en":
                self.download(url)
            return False
        try:
            response = self.page.goto(url)
        except Exception as error:  # Playwright's: a link that answers with a file (Content-Disposition: attachment)
            if "Download is starting" not in str(error):
                raise
            if lang == "en":
                self.download(url)
            return False
        if response is None or response.status != 200:
            self.note(where, f"status {response.status if response else None}")
            return False
        if "text/html" not in response.headers.get("content-type", ""):
            self.note(where, f"not a page: {response.headers.get('content-type')}")
            return False
        path = urlsplit(self.page.url).path
        if "/login/" in path and "/login/" not in url:
            self.note(where, "sent to sign in")
            return False
        area = _area(path)
        facts = page_facts(self.page, area.nav, area.sign_out or "html") if area else page_facts(self.page)
        text = facts["text"]
        for problem in text_problems(COORDINATES.sub("", text) if COORDINATE_PAGE.search(path) else text):
            self.note(where, problem)
        if lang == "de" and (raw := RAW_DECIMAL_DE.findall(text)):
            self.note(where, f"raw decimals {raw[:3]}")
        if area is not None and facts["nav"] < area.nav_links:
            self.note(where, f"no {area.name} navigation ({area.nav})")
        if area is not None and area.sign_out and facts["signOut"] != 1:
            self.note(where, f"not one sign-out button ({area.sign_out})")
        if facts["lang"] != lang and not (area and area.name == "print sheet"):
            self.note(where, f"<html lang={facts['lang']}>")
        if lang == "de":
            for problem in untranslated(text + "\n" + facts["labels"], url):
                self.note(where, problem)
        if (expected := self.role.shows.get(url, {}).get(lang)) and expected not in text:
            self.note(where, f"{expected!r} is not shown")
        if url in self.role.start_on and self.started[lang] not in text:
            self.note(where, f"the chosen session's start {self.started[lang]!r} is not shown")
        shot(self.page, _slug(url))
        return True

    def download(self, url: str) -> None:
        response = self.page.request.get(url)
        body, kind = response.body(), response.headers.get("content-type", "")
        where = f"download {url}"
        if response.status != 200:
            self.note(where, f"status {response.status}")
        elif url.endswith(".csv") and "text/csv" not in kind:
            self.note(where, f"content type {kind}")
        elif "pdf" in url and not body.startswith(b"%PDF"):
            self.note(where, f"not a PDF ({kind})")
        elif b"Traceback" in body:
            self.note(where, "server error text")
        self.downloads[url] = body

    def again_in_german(self, shot: Shots) -> None:
        """The same pages in German at phone width: axe-core on the pages outside the admin, nothing scrolls
        sideways, no English key string left."""
        self.page.set_viewport_size(PHONE)
        for url in self.pages:
            if not self.visit(url, "de", shot):
                continue
            if overflow := sideways_overflow(self.page):
                self.note(f"de {url}", f"375 px: {overflow}")
            if not url.startswith("/admin/"):
                for violation in axe_violations(self.page, contrast=False):
                    self.note(f"de 375px {url}", violation)
        self.page.set_viewport_size(DESKTOP)


def _shots(role: str, lang: str) -> Shots:
    directory = ARTIFACTS / f"{role}-{lang}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return Shots(directory, jpeg=True)


def _sign_in(page, role: Role) -> None:
    page.goto("/")
    page.fill("input[name=username]", role.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(re.escape(role.home) + "$"))


def _switch_language(page, code: str) -> None:
    """The header's switcher, on the sign-out page every signed-in role can open."""
    page.goto("/accounts/logout/")
    page.select_option("#language-choice", code)
    page.click("header form.language button")
    page.wait_for_load_state()


def _sign_out(page, role: Role) -> str:
    """The sign-out button of the role's home page; empty when it worked, else what happened."""
    page.goto(role.home)
    page.click(_area(role.home).sign_out)
    page.wait_for_load_state()
    landed = urlsplit(page.url).path
    page.goto(role.home)
    if "/login/" not in page.url:
        return f"still signed in after signing out (landed on {landed})"
    return ""


def _card_removal_asks(page) -> str:
    """Removing a card asks first, and dismissing the question keeps the card; empty when so."""
    page.goto("/payments/methods/")
    remove = page.locator("#methods button", has_text="Remove").first
    remove.wait_for()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    remove.click()
    page.wait_for_timeout(300)
    if not (asked and "ending" in asked[0]) or page.locator("#methods button", has_text="Remove").count() != 1:
        return f"removing a card did not ask first, or went ahead: {asked}"
    return ""


def _anonymous_pages(browser, base: str) -> dict[str, list]:
    """The sign-in and password-reset pages in each language (the browser's Accept-Language decides)."""
    problems: dict[str, list] = {}
    for lang, accept in (("en", "en-GB,en;q=0.9"), ("de", "de-DE,de;q=0.9")):
        context = browser.new_context(base_url=base, viewport=PHONE if lang == "de" else DESKTOP,
                                      extra_http_headers={"Accept-Language": accept})
        shot = _shots("anonymous", lang)
        try:
            page = context.new_page()
            for url in ("/accounts/login/", "/accounts/password_reset/"):
                found = []
                response = page.goto(url)
                facts = page_facts(page)
                text = facts["text"] + "\n" + facts["labels"]
                found += [] if response and response.status == 200 else [f"status {response and response.status}"]
                found += text_problems(text) + axe_violations(page)
                found += [] if page.get_attribute("html", "lang") == lang else [f"<html lang> is not {lang}"]
                if lang == "de":
                    found += untranslated(text, url)
                    if overflow := sideways_overflow(page):
                        found.append(f"375 px: {overflow}")
                if found:
                    problems[f"anonymous {lang} {url}"] = found
                shot(page, _slug(url))
        finally:
            context.close()
    return problems


@pytest.fixture
def fleet(operator, connector):
    """A company of the operator with a postpaid account, its fleet manager, a member with a business card,
    a business session last month and that month's statement."""
    company = factories.CompanyFactory(operator=operator, legal_name="Acme GmbH")
    BillingAccount.objects.create(company=company, operator=operator, payment_mode=BillingAccount.PaymentMode.POSTPAID)
    member = factories.DriverFactory(operator=operator, company=company, profile__full_name="Anna Novak")
    card = factories.IdTokenFactory(operator=operator, driver=member, company=company,
                                    charging=IdToken.Charging.BUSINESS, cost_centre="Sales", uid="04ANNA")
    today = date.today()
    last_month = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    charged_session(connector=connector, driver=member, id_token=card,
                    started_at=datetime(last_month.year, last_month.month, 6, 8, tzinfo=UTC), energy_kwh="10")
    with delivery_suppressed():
        billing_run(period=last_month)
    return factories.FleetManagerFactory(company=company, username="fiona-fleet")


def test_every_page_of_every_role_in_english_and_german(browser, live_server, paid_session, agent, fleet):
    operator, driver = paid_session.operator, paid_session.driver
    receipt = paid_session.receipts.get()
    ticket = dispute_services.ticket_open(by=driver, session=paid_session, reason="wrong_amount",
                                          description="The charger says 9 kWh.")
    factories.OperatorStaffFactory(operator=operator, username="olga-staff")
    factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    zone = paid_session.connector.station.location.time_zone
    started = {lang: format_local_datetime(paid_session.started_at, zone, locale=locale).split(" (")[0]
               for lang, locale in LOCALES.items()}
    session_admin = f"/admin/sessions_app/chargingsession/{paid_session.pk}/change/"
    driver_start = ["/portal/", "/portal/sessions/", f"/portal/sessions/{paid_session.pk}/",
                    f"/disputes/new/?session={paid_session.pk}"]
    receipt_pdf = f"/invoices/{receipt.pk}/pdf/"
    roles = [
        Role("driver", driver.username, "/portal/",
             [*driver_start, f"/disputes/new/?invoice={receipt.pk}", f"/disputes/{ticket.pk}/", receipt_pdf],
             ("/portal/", "/payments/", "/disputes/", "/invoices/"), start_on=driver_start,
             shows={f"/portal/sessions/{paid_session.pk}/": {"en": "€5.11", "de": "5,11\xa0€"}}),
        Role("support", agent.username, "/support/tickets/",
             [f"/support/tickets/{ticket.pk}/", f"/support/tickets/?q={paid_session.pk}"], ("/support/",),
             hop=("/admin/",), start_on=[f"/support/tickets/{ticket.pk}/", session_admin]),
        Role("operator", "olga-staff", "/admin/", [session_admin], ("/admin/",), start_on=[session_admin]),
        Role("superuser", "root", "/admin/", ["/admin/", "/admin/sessions_app/chargingsession/", session_admin],
             ("/admin/",), outside=("/admin/djstripe/",),
             start_on=[session_admin]),
        Role("fleet", fleet.username, "/fleet/", [], ("/fleet/",)),
    ]
    problems = _anonymous_pages(browser, live_server.url)
    shared: dict[str, set] = {"admin seen": set(), "axe": set()}
    summary = {}
    for role in roles:
        began = time.monotonic()
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            _sign_in(page, role)
            walk = Walk(page, role, live_server.url, started, shared)
            walk.crawl(_shots(role.name, "en"))
            if role.name == "driver" and (asked := _card_removal_asks(page)):
                walk.note("/payments/methods/", asked)
            _switch_language(page, "de")
            walk.again_in_german(_shots(role.name, "de"))
            if role.name == "driver":
                pdf = subprocess.run(["pdftotext", "-layout", "-", "-"], input=walk.downloads[receipt_pdf],
                                     capture_output=True, check=True, timeout=30).stdout.decode()
                local = (format_local_date(paid_session.started_at, zone, locale="en_GB"),
                         format_local_time(paid_session.started_at, zone, locale="en_GB"))
                if not all(part in pdf for part in local):
                    walk.note("receipt PDF", f"the chosen session's start {local} is not shown")
            if failed := _sign_out(page, role):
                walk.note("sign-out", failed)
            problems.update({f"{role.name} {where}": found for where, found in walk.problems.items()})
            summary[role.name] = f"{len(walk.pages)} pages, {len(walk.downloads)} downloads, " \
                                 f"{time.monotonic() - began:.0f} s"
        finally:
            context.close()
    print("\nwalk:", summary)
    assert problems == {}, pformat(problems, width=120)
