"""OCPI 2.2.1 URLs: /ocpi/versions, /ocpi/2.2.1 (details) and one URL per module; a trailing slash is
accepted everywhere (clients differ), without a redirect (a redirect would lose a PUT's body)."""
from django.urls import re_path

from .views import credentials, versions

app_name = "ocpi"

urlpatterns = [
    re_path(r"^versions/?$", versions.versions, name="versions"),
    re_path(r"^2\.2\.1/?$", versions.version_details, name="details"),
    re_path(r"^2\.2\.1/credentials/?$", credentials.credentials, name="credentials"),
]
