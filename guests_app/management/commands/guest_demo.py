"""python manage.py guest_demo: a demo charger that waits for guests (scan its QR code, pay, charge)."""
import asyncio
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from websockets.asyncio.client import connect
from websockets.headers import build_authorization_basic

from guests_app.demo import demo_connector, load_guest_history, load_guest_tariff
from guests_app.qr import connector_path
from sessions_app.demo import DEMO_STATION_PASSWORD
from sessions_app.ocpp.simulator import RemoteStartCharger16


class Command(BaseCommand):
    help = ("Load the demo's ad hoc tariff, then connect the demo guest charger to the OCPP gateway: it starts when "
            "a guest pays on its page and charges at --power kW until stopped.")

    def add_arguments(self, parser):
        parser.add_argument("--setup", action="store_true", help="only load the tariff and print the addresses")
        parser.add_argument("--url", default="ws://127.0.0.1:9000", help="gateway (default ws://127.0.0.1:9000)")
        parser.add_argument("--site", default="http://127.0.0.1:8000", help="the web app, for the printed links")
        parser.add_argument("--power", type=float, default=11.0, help="charging power in kW (default 11)")
        parser.add_argument("--password", default=DEMO_STATION_PASSWORD, help="the station's OCPP password")

    def handle(self, *args, setup: bool, url: str, site: str, power: float, password: str, **options):
        load_guest_tariff()
        connector = demo_connector()
        if connector is None:
            if setup:  # make run goes on without the guest demo (a database without the demo operator)
                self.stdout.write("  Guest charging: no demo charger (python manage.py load_demo adds one).")
                return
            raise CommandError("No demo charger: run `python manage.py load_demo` first.")
        added = load_guest_history()
        if added:
            self.stdout.write(f"  Guest charging: {added} past guests added to the demo (their pages: "
                              f"{site.rstrip('/')}/charge-session/demo-guest-1/ ... demo-guest-{added}/)")
        page = site.rstrip("/") + connector_path(connector)
        self.stdout.write(f"  Guest charging: {page}  (QR codes: {site.rstrip('/')}/admin/guests_app/guestsession/)")
        if setup:
            return
        if not (getattr(settings, "OCPP_COMMANDS_REDIS_URL", "") or settings.REDIS_URL):
            self.stderr.write("Remote starts need Redis: start redis-server, or set OCPP_COMMANDS_REDIS_URL for "
                              "the web app and run_ocpp (make run does when Redis answers on 127.0.0.1:6379).")
        logging.getLogger("ocpp").setLevel(logging.WARNING)
        identity = connector.station.ocpp_identity
        self.stdout.write(f"charger {identity} connected to {url}; waiting for a guest (Ctrl-C ends)")
        asyncio.run(self._run(url, identity, password, power))

    async def _run(self, url: str, identity: str, password: str, power: float) -> None:
        headers = {"Authorization": build_authorization_basic(identity, password)}
        async with connect(f"{url.rstrip('/')}/{identity}", subprotocols=["ocpp1.6"], additional_headers=headers) as ws:
            cp = RemoteStartCharger16(identity, ws, power_kw=power, interval=5.0)
            await cp.start()
