"""The language switcher: a POST from any page sets the language cookie (Django's `set_language`) and, for
someone signed in, stores the choice on their account (`User.language`), so their pages and e-mails follow
it on every device."""
from __future__ import annotations

from django.conf import settings
from django.views.decorators.http import require_POST
from django.views.i18n import set_language


@require_POST
def language_switch(request):
    response = set_language(request)
    code = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and code in dict(settings.LANGUAGES) and user.language != code:
        user.language = code
        user.save(update_fields=["language"])
    return response
