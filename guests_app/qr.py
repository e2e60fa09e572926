"""QR codes for connectors (segno): what the sticker on a charger encodes is the connector's public page,
`/charge/<station identity>/<connector number>/`, as an absolute URL."""
from __future__ import annotations

import io

import segno
from django.urls import reverse

from sessions_app.models import Connector


def connector_path(connector: Connector) -> str:
    return reverse("guests:connector", args=[connector.station.ocpp_identity, connector.number])


def qr_png(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = 6, inline: bool = False) -> str:
    """The code as SVG text (`inline`: without the XML declaration, for an HTML page)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, border=4, xmldecl=not inline,
                                    svgns=True, title=url)
    return buffer.getvalue().decode()
