"""The credentials module both ways (credentials, version_information_endpoint).

A partner registers with us: the operator issues token A (`partner_token_a_issue`, from
`manage.py ocpi_token_a` or the admin) and hands it out with our versions URL; the partner POSTs its
credentials with token B (`partner_register_incoming`): we read its versions and 2.2.1 endpoints with
token B, keep token B to call it, and answer with token C, of which we keep only the hash. PUT renews
(new endpoints, new token C), DELETE unregisters.

We register with a partner (`partner_register_outgoing`) with the token A it gave us: we read its
versions with token A, POST our credentials carrying a token B we issue, and keep the token C it
answers. The token B row is committed before the POST, because the partner reads our versions with it
while our request is open.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from evbilling.errors import ApplicationError, ConflictError
from sessions_app.models import Operator

from . import client, envelope
from .auth import token_generate, token_hash
from .envelope import OcpiError
from .models import CpoParty, Partner

logger = logging.getLogger(__name__)

VERSION = "2.2.1"
#: The roles we deal with, in the order we prefer them for a partner announcing several.
_ROLE_PREFERENCE = ("EMSP", "HUB", "NSP", "NAP", "SCSP", "OTHER")


class CredentialsError(ApplicationError):
    """A registration we could not complete; the message says what the other side did."""


def base_url() -> str:
    return settings.OCPI_BASE_URL.rstrip("/")


def versions_url() -> str:
    return f"{base_url()}/ocpi/versions"


def version_details_url() -> str:
    return f"{base_url()}/ocpi/{VERSION}"


def module_url(identifier: str) -> str:
    return f"{version_details_url()}/{identifier}"


def cpo_party(operator: Operator) -> CpoParty:
    party = CpoParty.objects.filter(operator=operator).first()
    if party is None:
        raise CredentialsError(f"{operator} has no OCPI party (country code and party id): add one in the admin.")
    return party


def our_credentials(*, operator: Operator, token: str) -> dict[str, Any]:
    """Our Credentials object for a partner of `operator`: `token` is the one it must use with us."""
    party = cpo_party(operator)
    business: dict[str, Any] = {"name": party.business_name or operator.legal_name}
    if party.website:
        business["website"] = party.website
    return {"token": token, "url": versions_url(),
            "roles": [{"role": "CPO", "party_id": party.party_id, "country_code": party.country_code,
                       "business_details": business}]}


def partner_token_a_issue(*, operator: Operator, name: str) -> tuple[Partner, str]:
    """A new token A for the partner `name` of `operator` (created if new); returns it once, stores its hash.

    A registered partner keeps its connection: renew or unregister it first.
    """
    cpo_party(operator)
    token = token_generate()
    with transaction.atomic():
        partner = (Partner.objects.select_for_update().filter(operator=operator, name=name).first()
                   or Partner(operator=operator, name=name))
        if partner.status == Partner.Status.REGISTERED:
            raise ConflictError(f"{partner} is registered; unregister it before issuing a new token A.")
        partner.status = Partner.Status.PENDING
        partner.token_hash, partner.token_kind, partner.token_theirs = token_hash(token), Partner.TokenKind.A, ""
        partner.full_clean(exclude=["token_hash"])
        partner.save()
    return partner, token


def _parse_credentials(data: Any) -> tuple[str, str, list[dict[str, Any]]]:
    if not isinstance(data, dict):
        raise OcpiError("credentials: must be an object.")
    token, url, roles = data.get("token"), data.get("url"), data.get("roles")
    if not isinstance(token, str) or not token or len(token) > 64 or not token.isascii() or not token.isprintable():
        raise OcpiError("token: a string of 1 to 64 printable ASCII characters is required.")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise OcpiError("url: the URL of your versions endpoint is required.")
    if not isinstance(roles, list) or not roles:
        raise OcpiError("roles: at least one CredentialsRole is required.")
    for index, role in enumerate(roles):
        if not isinstance(role, dict):
            raise OcpiError(f"roles[{index}]: must be an object.")
        for key, length in (("role", 5), ("party_id", 3), ("country_code", 2)):
            value = role.get(key)
            if not isinstance(value, str) or not value or len(value) > length:
                raise OcpiError(f"roles[{index}].{key}: a string of at most {length} characters is required.")
        if role["role"].upper() not in _ROLE_PREFERENCE and role["role"].upper() != "CPO":
            raise OcpiError(f"roles[{index}].role: unknown role {role['role']!r}.")
        if not isinstance(role.get("business_details"), dict) or not role["business_details"].get("name"):
            raise OcpiError(f"roles[{index}].business_details.name is required.")
    return token, url, roles


def _primary_role(roles: list[dict[str, Any]]) -> dict[str, Any]:
    for wanted in _ROLE_PREFERENCE:
        for role in roles:
            if role["role"].upper() == wanted:
                return role
    raise OcpiError("roles: no eMSP, hub or other non-CPO role to connect to.",
                    status_code=envelope.NO_MATCHING_ENDPOINTS)


def fetch_endpoints(*, url: str, token: str) -> list[dict[str, Any]]:
    """The partner's 2.2.1 endpoints, read from its versions URL with `token`; OcpiError 3001/3002/3003."""
    try:
        versions = client.call("GET", url, token=token)
        if not versions.ok or not isinstance(versions.data, list):
            raise OcpiError(f"GET {url} answered HTTP {versions.http_status} {versions.status_code}: "
                            f"{versions.status_message}", status_code=envelope.UNABLE_TO_USE_CLIENT_API)
        details_url = next((v.get("url") for v in versions.data if isinstance(v, dict) and v.get("version") == VERSION),
                           None)
        if not isinstance(details_url, str):
            raise OcpiError(f"{url} offers no OCPI {VERSION}.", status_code=envelope.UNSUPPORTED_VERSION)
        details = client.call("GET", details_url, token=token)
    except client.PartnerUnreachable as error:
        raise OcpiError(str(error), status_code=envelope.UNABLE_TO_USE_CLIENT_API) from None
    endpoints = details.data.get("endpoints") if details.ok and isinstance(details.data, dict) else None
    if not isinstance(endpoints, list):
        raise OcpiError(f"GET {details_url} gave no endpoints.", status_code=envelope.UNABLE_TO_USE_CLIENT_API)
    endpoints = [e for e in endpoints if isinstance(e, dict) and isinstance(e.get("url"), str)]
    if not any(e.get("identifier") == "credentials" for e in endpoints):
        raise OcpiError("The partner lists no credentials endpoint.", status_code=envelope.NO_MATCHING_ENDPOINTS)
    return endpoints


def _store_party(partner: Partner, roles: list[dict[str, Any]]) -> None:
    role = _primary_role(roles)
    partner.roles = roles
    partner.role = role["role"].upper()
    partner.country_code = role["country_code"].upper()
    partner.party_id = role["party_id"].upper()
    partner.business_name = str(role["business_details"]["name"])[:100]


def _save_registered(partner: Partner) -> None:
    try:
        with transaction.atomic():
            partner.save()
    except IntegrityError:
        raise OcpiError(f"{partner.country_code}*{partner.party_id} ({partner.role}) is already registered with "
                        "this operator under another connection.", status_code=envelope.CLIENT_ERROR) from None


def partner_register_incoming(*, partner: Partner, data: Any) -> dict[str, Any]:
    """POST credentials: the partner (holding token A) registers; returns our credentials with token C."""
    if partner.status != Partner.Status.PENDING:
        raise envelope.method_not_allowed("Already registered: use PUT to update the credentials.")
    return _exchange(partner, data)


def partner_update_incoming(*, partner: Partner, data: Any) -> dict[str, Any]:
    """PUT credentials: new endpoints and a new token C for a registered partner."""
    if partner.status != Partner.Status.REGISTERED:
        raise envelope.method_not_allowed("Not registered: POST the credentials first.")
    return _exchange(partner, data)


def _exchange(partner: Partner, data: Any) -> dict[str, Any]:
    their_token, url, roles = _parse_credentials(data)
    endpoints = fetch_endpoints(url=url, token=their_token)
    token_c = token_generate()
    _store_party(partner, roles)
    partner.versions_url, partner.version, partner.endpoints = url, VERSION, endpoints
    partner.token_hash, partner.token_kind, partner.token_theirs = token_hash(token_c), Partner.TokenKind.C, their_token
    partner.status = Partner.Status.REGISTERED
    partner.registered_at, partner.unregistered_at = partner.registered_at or timezone.now(), None
    _save_registered(partner)
    return our_credentials(operator=partner.operator, token=token_c)


def partner_unregister_incoming(*, partner: Partner) -> None:
    """DELETE credentials: the partner ends the connection; neither token works any more."""
    if partner.status != Partner.Status.REGISTERED:
        raise envelope.method_not_allowed("Not registered.")
    _forget(partner)


def _forget(partner: Partner) -> None:
    partner.status = Partner.Status.UNREGISTERED
    partner.token_hash, partner.token_kind, partner.token_theirs = None, "", ""
    partner.unregistered_at = timezone.now()
    partner.save()


def partner_register_outgoing(*, operator: Operator, name: str, versions_url: str, token_a: str) -> Partner:
    """Register with a partner's platform using the token A it gave us; the partner ends registered."""
    cpo_party(operator)
    partner = Partner.objects.filter(operator=operator, name=name).first() or Partner(operator=operator, name=name)
    if partner.status == Partner.Status.REGISTERED:
        raise ConflictError(f"{partner} is registered already; update or unregister it instead.")
    token_b = token_generate()
    partner.status, partner.versions_url = Partner.Status.REGISTERING, versions_url
    partner.token_hash, partner.token_kind, partner.token_theirs = token_hash(token_b), Partner.TokenKind.B, ""
    partner.save()  # committed before the POST: the partner reads our versions with token B meanwhile
    return _post_credentials(partner, method="POST", their_token=token_a, our_token=token_b, url=versions_url)


def partner_update_outgoing(*, partner: Partner) -> Partner:
    """Renew the tokens of a registered partner (PUT our credentials with a new token B)."""
    if partner.status != Partner.Status.REGISTERED:
        raise ConflictError(f"{partner} is not registered.")
    token_b = token_generate()
    with transaction.atomic():
        previous = (partner.token_hash, partner.token_kind)
        partner.token_hash, partner.token_kind = token_hash(token_b), Partner.TokenKind.B
        partner.save(update_fields=["token_hash", "token_kind", "updated_at"])
    try:
        return _post_credentials(partner, method="PUT", their_token=partner.token_theirs, our_token=token_b,
                                 url=partner.versions_url)
    except CredentialsError:
        partner.token_hash, partner.token_kind = previous
        partner.status = Partner.Status.REGISTERED
        partner.save(update_fields=["token_hash", "token_kind", "status", "updated_at"])
        raise


def _post_credentials(partner: Partner, *, method: str, their_token: str, our_token: str, url: str) -> Partner:
    try:
        endpoints = fetch_endpoints(url=url, token=their_token)
        credentials_url = partner_url(endpoints, "credentials")
        reply = client.call(method, credentials_url, token=their_token,
                            body=our_credentials(operator=partner.operator, token=our_token))
        if not reply.ok:
            raise OcpiError(f"{method} {credentials_url} answered HTTP {reply.http_status} {reply.status_code}: "
                            f"{reply.status_message}", status_code=envelope.UNABLE_TO_USE_CLIENT_API)
        token_c, _their_url, roles = _parse_credentials(reply.data)
        _store_party(partner, roles)
    except (OcpiError, client.PartnerUnreachable) as error:
        if method == "POST":
            _forget(partner)  # token B stops working; the operator can try again
        raise CredentialsError(f"Registration with {partner.name} failed: {getattr(error, 'message', error)}") from None
    partner.endpoints, partner.version, partner.token_theirs = endpoints, VERSION, token_c
    partner.status, partner.registered_at = Partner.Status.REGISTERED, partner.registered_at or timezone.now()
    partner.unregistered_at = None
    try:
        _save_registered(partner)
    except OcpiError as error:
        raise CredentialsError(error.message) from None
    return partner


def partner_unregister_outgoing(*, partner: Partner) -> Partner:
    """Tell the partner we end the connection (DELETE its credentials endpoint), then forget both tokens.
    An unreachable partner is unregistered on our side all the same (its tokens stop working here)."""
    if partner.status != Partner.Status.REGISTERED:
        raise ConflictError(f"{partner} is not registered.")
    url = partner.endpoint_url("credentials", role=partner_endpoint_role(partner.endpoints, "credentials"))
    if url:
        try:
            reply = client.call("DELETE", url, token=partner.token_theirs)
            if not reply.ok:
                logger.warning("OCPI unregister at %s answered %s %s", partner, reply.http_status, reply.status_code)
        except client.PartnerUnreachable as error:
            logger.warning("OCPI unregister at %s: %s", partner, error)
    _forget(partner)
    return partner


def partner_endpoint_role(endpoints: list[dict[str, Any]], identifier: str) -> str:
    """The role under which `identifier` is listed (credentials has no meaningful role: any)."""
    for endpoint in endpoints:
        if endpoint.get("identifier") == identifier:
            return endpoint.get("role", "RECEIVER")
    return "RECEIVER"


def partner_url(endpoints: list[dict[str, Any]], identifier: str) -> str:
    for endpoint in endpoints:
        if endpoint.get("identifier") == identifier:
            return endpoint["url"]
    raise OcpiError(f"The partner lists no {identifier} endpoint.", status_code=envelope.NO_MATCHING_ENDPOINTS)
