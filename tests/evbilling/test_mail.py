"""E-mail to several readers (evbilling.mail): one message each, in the reader's language, one render per
language."""
from django.core import mail
from django.utils import translation
from django.utils.translation import gettext

from evbilling.mail import reader_languages, send_in_languages
from tests import factories


def test_each_reader_gets_their_own_message_in_their_language_rendered_once_per_language(db):
    german = factories.SupportFactory(username="greta", language="de")
    english = factories.SupportFactory(username="eric", language="en")
    unset = factories.SupportFactory(username="uma", language="")
    readers = reader_languages([german.email, english.email, unset.email, "ops@operator.example", german.email],
                               known={"ops@operator.example": "de"})
    assert readers == {german.email: "de", english.email: "en", unset.email: "en", "ops@operator.example": "de"}
    renders = []

    def render():
        renders.append(translation.get_language())
        return gettext("Assignee"), gettext("Resolution due")

    assert send_in_languages(readers=readers, render=render) == 4
    assert sorted(renders) == ["de", "en"]
    sent = {m.to[0]: (m.subject, m.body) for m in mail.outbox}
    assert len(mail.outbox) == 4 and all(len(m.to) == 1 for m in mail.outbox)
    assert sent[german.email] == sent["ops@operator.example"] == ("Bearbeiter", "Lösung fällig")
    assert sent[english.email] == sent[unset.email] == ("Assignee", "Resolution due")


def test_an_account_language_wins_over_what_the_caller_knows_and_no_readers_send_nothing(db):
    german = factories.SupportFactory(username="greta", language="de")
    assert reader_languages([german.email], known={german.email: "en"}) == {german.email: "de"}
    assert send_in_languages(readers={}, render=lambda: ("x", "y")) == 0
    assert mail.outbox == []
