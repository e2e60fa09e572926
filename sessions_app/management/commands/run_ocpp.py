"""python manage.py run_ocpp: the OCPP gateway chargers connect to (see docs/ocpp.md)."""
import asyncio
import logging
import signal

from django.core.management.base import BaseCommand

from sessions_app.ocpp.commands import commands_redis_url
from sessions_app.ocpp.server import Gateway


class Command(BaseCommand):
    help = "Run the OCPP 1.6J / 2.0.1 gateway (websocket server) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--verbose-ocpp", action="store_true", help="log every OCPP frame")

    def handle(self, *args, host: str, port: int, verbose_ocpp: bool, **options):
        logging.getLogger("ocpp").setLevel(logging.INFO if verbose_ocpp else logging.WARNING)
        asyncio.run(self._serve(host, port))

    async def _serve(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        redis_url = commands_redis_url()
        async with Gateway(host=host, port=port, redis_url=redis_url) as gateway:
            commands = "remote commands via Redis" if redis_url else "no remote commands (REDIS_URL unset)"
            self.stdout.write(f"OCPP gateway on ws://{host}:{gateway.port}/<station identity> ({commands})")
            await stop.wait()
        self.stdout.write("OCPP gateway stopped.")
