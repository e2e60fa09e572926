"""python manage.py simulate_chargers: demo chargers that charge cars through the OCPP gateway."""
import asyncio
import logging

from django.core.management.base import BaseCommand, CommandError

from sessions_app.demo import DEMO_STATION_PASSWORD, demo_meter
from sessions_app.models import ChargingStation, IdToken
from sessions_app.ocpp.simulator import SimStation, simulate


class Command(BaseCommand):
    help = "Connect N simulated chargers (demo stations) to the OCPP gateway and run M sessions on each."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=4, help="chargers (default 4)")
        parser.add_argument("--sessions", type=int, default=3, help="sessions per charger (default 3)")
        parser.add_argument("--url", default="ws://127.0.0.1:9000", help="gateway (default ws://127.0.0.1:9000)")
        parser.add_argument("--speed", type=float, default=120.0,
                            help="simulated seconds per real second (default 120: a 1 h charge takes 30 s)")
        parser.add_argument("--password", default=DEMO_STATION_PASSWORD, help="the stations' OCPP password")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, count: int, sessions: int, url: str, speed: float, password: str, seed, **options):
        if count < 1 or sessions < 1 or speed <= 0:
            raise CommandError("--count and --sessions must be at least 1, --speed positive.")
        logging.getLogger("ocpp").setLevel(logging.WARNING)
        stations = self._stations(count, password)
        if not stations:
            raise CommandError("No stations with accepted tokens: run `python manage.py load_demo` first.")
        self.stdout.write(f"{len(stations)} chargers x {sessions} sessions against {url} "
                          f"({', '.join(s.identity for s in stations)}); watch /admin/sessions_app/chargingsession/")
        done = asyncio.run(simulate(stations, url, sessions=sessions, speed=speed, seed=seed or 0))
        self.stdout.write(self.style.SUCCESS(f"{done} sessions completed."))

    def _stations(self, count: int, password: str) -> list[SimStation]:
        stations = []
        for station in ChargingStation.objects.select_related("location").prefetch_related("connectors")[:count]:
            tokens = list(IdToken.objects.filter(operator_id=station.location.operator_id,
                                                 status=IdToken.Status.ACCEPTED).values_list("uid", flat=True)[:20])
            connectors = sorted(c.number for c in station.connectors.all())
            if not tokens or not connectors:
                continue
            first = station.connectors.all()[0]
            stations.append(SimStation(
                identity=station.ocpp_identity, password=password, connectors=connectors,
                dc=first.power_type == "DC", max_kw=float(first.max_power_kw), tokens=tokens,
                # Eichrecht sites: the station's TEST meter signs begin and end (its key is the demo's)
                meter=demo_meter(station.ocpp_identity) if station.location.calibration_law else None,
            ))
        return stations
