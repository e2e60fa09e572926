"""Read queries about settled sessions, scoped to who asks."""
from __future__ import annotations

from django.db.models import QuerySet

from billing_app.models import ChargeReview
from sessions_app.models import User
from sessions_app.selectors import scope_to_user


def held_reviews(user: User) -> QuerySet[ChargeReview]:
    """Session charges held for review of the operators `user` works for, oldest first."""
    return (scope_to_user(ChargeReview.objects.filter(status=ChargeReview.Status.HELD), user)
            .select_related("charge__session__operator", "charge__session__connector__station")
            .order_by("opened_at", "pk"))
