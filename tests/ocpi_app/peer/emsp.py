"""An eMSP we did not write the protocol of: extrawest-ocpi (`py_ocpi`, FastAPI + pydantic 1) serving the
eMSP interfaces of OCPI 2.2.1, with an in-memory store behind its CRUD seam.

Run by the test setup in its own virtual environment (tests/ocpi_app/peer_fixtures.py), never imported by
the suite: `python emsp.py PORT TOKEN_A`. Besides the library's OCPI routes it has a small control API for
the tests: register with a CPO as the credentials Sender (`/control/register`), pull a CPO module page by
page validating each object with the library's own pydantic schemas (`/control/pull/{module}`), and show
what CPOs pushed (`/control/store`).
"""
from __future__ import annotations

import base64
import os
import secrets
import sys

PORT, TOKEN_A = int(sys.argv[1]), sys.argv[2]
os.environ.update(OCPI_HOST=f"127.0.0.1:{PORT}", PROTOCOL="http", COUNTRY_CODE="NL", PARTY_ID="EXW",
                  ENVIRONMENT="production")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import Request  # noqa: E402
from py_ocpi.core.adapter import BaseAdapter  # noqa: E402
from py_ocpi.core.authentication.authenticator import Authenticator  # noqa: E402
from py_ocpi.core.crud import Crud  # noqa: E402
from py_ocpi.core.enums import ModuleID, RoleEnum  # noqa: E402
from py_ocpi.core.utils import get_module_model  # noqa: E402
from py_ocpi.main import get_application  # noqa: E402
from py_ocpi.modules.versions.enums import VersionNumber  # noqa: E402

BASE = f"http://127.0.0.1:{PORT}/ocpi"
ROLE = {"role": "EMSP", "party_id": "EXW", "country_code": "NL", "business_details": {"name": "Extrawest eMSP"}}
#: The peer's state: valid tokens, what each client registered with, objects pushed to it, the CPO it talks to.
STATE: dict = {"token_a": {TOKEN_A}, "token_c": set(), "clients": {}, "objects": {}, "cpo": None, "emsp_tokens": {}}
SCHEMAS = {"locations": "Location", "tariffs": "Tariff", "sessions": "Session", "cdrs": "Cdr"}


def _auth(token: str) -> dict:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


class MemoryAuthenticator(Authenticator):
    @classmethod
    async def get_valid_token_c(cls):
        return list(STATE["token_c"])

    @classmethod
    async def get_valid_token_a(cls):
        return list(STATE["token_a"])


def _issue(credentials: dict, endpoints) -> dict:
    token_c = secrets.token_urlsafe(24)
    STATE["token_c"].add(token_c)
    STATE["clients"][token_c] = credentials
    STATE["cpo"] = {"token": credentials["token"], "endpoints": endpoints.get("endpoints", endpoints)
                    if isinstance(endpoints, dict) else endpoints}
    return {"token": token_c, "url": f"{BASE}/versions", "roles": [ROLE]}


class MemoryCrud(Crud):
    @classmethod
    async def get(cls, module, role, id, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            return {"token": id, "url": f"{BASE}/versions", "roles": [ROLE]} if id in STATE["clients"] else None
        if module == ModuleID.tokens:  # our own drivers' tokens (the eMSP's), for real-time authorization
            return STATE["emsp_tokens"].get(str(id).upper(), {}).get("token")
        return STATE["objects"].get(module.value, {}).get(str(id))

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        return [], 0, True

    @classmethod
    async def create(cls, module, role, data, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            return _issue(data["credentials"], data["endpoints"])
        key = str(data.get("id") or data.get("uid") or kwargs.get("command") or len(STATE["objects"]))
        STATE["objects"].setdefault(module.value, {})[key] = data
        return data

    @classmethod
    async def update(cls, module, role, data, id, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            old = kwargs.get("auth_token")
            STATE["token_c"].discard(old)
            STATE["clients"].pop(old, None)
            return _issue(data["credentials"], data["endpoints"])
        stored = STATE["objects"].setdefault(module.value, {})
        stored[str(id)] = {**stored.get(str(id), {}), **data}
        return stored[str(id)]

    @classmethod
    async def delete(cls, module, role, id, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            STATE["token_c"].discard(id)
            STATE["clients"].pop(id, None)
            STATE["cpo"] = None
            return
        STATE["objects"].get(module.value, {}).pop(str(id), None)

    @classmethod
    async def do(cls, module, role, action, *args, data=None, **kwargs):
        if module == ModuleID.tokens and data:
            known = STATE["emsp_tokens"][str(data["token_uid"]).upper()]
            STATE["objects"].setdefault("authorizations", {})[str(data["token_uid"])] = data.get("location_reference")
            return {"allowed": known["allowed"], "token": known["token"]}
        return None


app = get_application(
    version_numbers=[VersionNumber.v_2_2_1], roles=[RoleEnum.emsp], crud=MemoryCrud, adapter=BaseAdapter,
    authenticator=MemoryAuthenticator,
    modules=[ModuleID.credentials_and_registration, ModuleID.locations, ModuleID.tariffs, ModuleID.sessions,
             ModuleID.cdrs, ModuleID.commands, ModuleID.tokens],
)


@app.post("/control/register")
async def control_register(request: Request):
    """The peer as credentials Sender: read the CPO's versions with its token A, POST our credentials."""
    body = await request.json()
    async with httpx.AsyncClient() as http:
        versions = (await http.get(body["url"], headers=_auth(body["token"]))).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        details = (await http.get(details_url, headers=_auth(body["token"]))).json()["data"]
        credentials_url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        token_b = secrets.token_urlsafe(24)
        STATE["token_c"].add(token_b)
        answer = await http.post(credentials_url, headers=_auth(body["token"]),
                                 json={"token": token_b, "url": f"{BASE}/versions", "roles": [ROLE]})
    reply = answer.json()
    if answer.status_code == 200 and reply.get("status_code") == 1000:
        credentials = get_module_model("Credentials", "credentials", "v_2_2_1")(**reply["data"])
        STATE["cpo"] = {"token": credentials.token, "endpoints": details["endpoints"]}
    return {"http_status": answer.status_code, "reply": reply}


@app.post("/control/call")
async def control_call(request: Request):
    """Any request to the CPO with the token it gave us: {method, url or module, json, token?}."""
    body = await request.json()
    url = body.get("url") or next(e["url"] for e in STATE["cpo"]["endpoints"] if e["identifier"] == body["module"])
    token = body.get("token") or STATE["cpo"]["token"]
    async with httpx.AsyncClient() as http:
        answer = await http.request(body.get("method", "GET"), url + body.get("suffix", ""), headers=_auth(token),
                                    json=body.get("json"), params=body.get("params"))
    return {"http_status": answer.status_code, "headers": dict(answer.headers), "reply": answer.json()}


@app.post("/control/pull/{module}")
async def control_pull(module: str):
    """GET every page of a CPO module following Link, each object validated by the library's schema."""
    url = next(e["url"] for e in STATE["cpo"]["endpoints"] if e["identifier"] == module)
    model = get_module_model(SCHEMAS[module], module, "v_2_2_1")
    objects, pages, totals = [], 0, []
    async with httpx.AsyncClient() as http:
        while url:
            answer = await http.get(url, headers=_auth(STATE["cpo"]["token"]))
            reply = answer.json()
            if answer.status_code != 200 or reply["status_code"] != 1000:
                return {"error": reply, "http_status": answer.status_code}
            objects += [model(**item).dict() for item in reply["data"]]
            totals.append(int(answer.headers["X-Total-Count"]))
            pages += 1
            link = answer.headers.get("Link", "")
            url = link[link.index("<") + 1:link.index(">")] if "rel=\"next\"" in link else None
    return {"objects": objects, "pages": pages, "totals": totals}


@app.post("/control/emsp_token")
async def control_emsp_token(request: Request):
    """One of the eMSP's own tokens and what real-time authorization answers for it: {token, allowed}."""
    body = await request.json()
    STATE["emsp_tokens"][body["token"]["uid"].upper()] = body
    return {"tokens": len(STATE["emsp_tokens"])}


@app.get("/control/store")
async def control_store():
    return {"objects": STATE["objects"], "registered": STATE["cpo"] is not None, "clients": len(STATE["clients"])}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
