"""Sign-out: POST signs out (Django's LogoutView, CSRF-checked); GET shows a page with the button, because a
link or a typed URL must not 405 and must not sign anyone out by itself (a GET can be forged cross-site)."""
from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

_logout = auth_views.LogoutView.as_view()


@require_http_methods(["GET", "POST"])
def sign_out(request):
    if request.method == "POST":
        return _logout(request)
    if not request.user.is_authenticated:
        return redirect("login")
    return render(request, "registration/logout_confirm.html")
