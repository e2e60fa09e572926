"""OCPI 2.2.1 URLs: /ocpi/versions, /ocpi/2.2.1 (details) and one URL per module; a trailing slash is
accepted everywhere (clients differ), without a redirect (a redirect would lose a PUT's body)."""
from django.urls import re_path

from .views import credentials, locations, roaming, tariffs, versions

app_name = "ocpi"

urlpatterns = [
    re_path(r"^versions/?$", versions.versions, name="versions"),
    re_path(r"^2\.2\.1/?$", versions.version_details, name="details"),
    re_path(r"^2\.2\.1/credentials/?$", credentials.credentials, name="credentials"),
    re_path(r"^2\.2\.1/locations/?$", locations.location_list, name="locations"),
    re_path(r"^2\.2\.1/locations/(?P<location_id>[^/]{1,36})/?$", locations.location_detail, name="location"),
    re_path(r"^2\.2\.1/locations/(?P<location_id>[^/]{1,36})/(?P<evse>[^/]{1,48})/?$", locations.location_detail,
            name="evse"),
    re_path(r"^2\.2\.1/locations/(?P<location_id>[^/]{1,36})/(?P<evse>[^/]{1,48})/(?P<connector>[^/]{1,36})/?$",
            locations.location_detail, name="connector"),
    re_path(r"^2\.2\.1/tariffs/?$", tariffs.tariff_list, name="tariffs"),
    re_path(r"^2\.2\.1/sessions/?$", roaming.session_list, name="sessions"),
    re_path(r"^2\.2\.1/cdrs/?$", roaming.cdr_list, name="cdrs"),
    re_path(r"^2\.2\.1/tokens/(?P<country_code>[^/]{1,2})/(?P<party_id>[^/]{1,3})/(?P<uid>[^/]{1,36})/?$",
            roaming.token_detail, name="token"),
    re_path(r"^2\.2\.1/commands/(?P<command>[A-Za-z_]{1,30})/?$", roaming.command, name="command"),
    re_path(r"^2\.2\.1/hubclientinfo/(?P<country_code>[^/]{1,2})/(?P<party_id>[^/]{1,3})/?$",
            roaming.hub_client_info, name="hubclientinfo"),
    re_path(r"^(?P<rest>.*)$", versions.unknown_url, name="unknown"),
]
