"""The conversation: public messages email the other side, internal notes stay with staff, replies
move the workflow, attachments are limited in number, size and type."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from disputes_app import services
from disputes_app.models import MessageAttachment, TicketMessage
from disputes_app.selectors import conversation
from disputes_app.services import DisputeError, DisputeNotFound
from tests.disputes_app.conftest import OPENED, move

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _post(ticket, author, body="Hello", **kwargs):
    return services.message_post(ticket=ticket, author=author, body=body, now=OPENED, **kwargs)


def test_staff_reply_emails_the_driver(ticket, support, driver, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(ticket, support, "We are checking the meter data.")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [driver.email]
    assert "We are checking the meter data." in mailoutbox[0].body
    assert f"/disputes/{ticket.pk}/" in mailoutbox[0].body


def test_the_driver_hears_in_their_language_and_support_in_english(ticket, support, driver, mailoutbox,
                                                                  django_capture_on_commit_callbacks):
    driver.language = "de"
    driver.save()
    with django_capture_on_commit_callbacks(execute=True):
        _post(ticket, support, "Wir prüfen die Zählerdaten.")
        _post(ticket, driver, "Danke.")
    to_driver, to_support = mailoutbox
    assert to_driver.body.startswith("Hallo,") and "der Support hat auf Ihren Vorgang" in to_driver.body
    assert "Hier antworten:" in to_driver.body
    assert "The driver wrote on ticket" in to_support.body and "Reply here:" in to_support.body


def test_driver_message_emails_the_operators_support(ticket, support, driver, mailoutbox,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(ticket, driver, "Any news?")
    assert [m.to for m in mailoutbox] == [[support.email]]
    assert f"/support/tickets/{ticket.pk}/" in mailoutbox[0].body


def test_driver_message_goes_to_the_assignee_when_there_is_one(ticket, support, driver, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    agent = services.ticket_assign(ticket=ticket, assignee=support, by=support).assignee
    agent.email = "agent@example.com"
    agent.save()
    with django_capture_on_commit_callbacks(execute=True):
        _post(ticket, driver, "Any news?")
    assert mailoutbox[-1].to == ["agent@example.com"]


def test_internal_note_emails_nobody_and_is_hidden_from_the_driver(ticket, support, mailoutbox,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(ticket, support, "Driver has 3 earlier disputes.", internal=True)
    assert mailoutbox == []
    assert [m.body for m in conversation(ticket, include_internal=False)] == [
        ticket.messages.first().body]
    assert conversation(ticket, include_internal=True).filter(internal=True).count() == 1


def test_driver_cannot_write_internal_notes(ticket, driver):
    with pytest.raises(DisputeError, match="internal notes"):
        _post(ticket, driver, internal=True)


def test_another_driver_cannot_post(ticket, other_driver):
    with pytest.raises(DisputeNotFound):
        _post(ticket, other_driver)


def test_first_public_staff_reply_is_the_first_response_and_takes_it_in_progress(ticket, support):
    _post(ticket, support, "note", internal=True)
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None and ticket.status == "open"
    _post(ticket, support, "Looking into it.")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == OPENED
    assert ticket.status == "in_progress"


def test_driver_reply_moves_a_waiting_ticket_back_in_progress(ticket, support, driver):
    ticket = move(ticket, "in_progress", "waiting_for_driver", by=support)
    _post(ticket, driver, "Here is my car's screenshot.")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert ticket.transitions.latest("pk").note == "driver replied"


def test_closed_ticket_takes_no_public_messages(ticket, support, driver):
    ticket = move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="Fine.", now=OPENED)
    move(ticket, "closed", by=support)
    with pytest.raises(DisputeError, match="closed"):
        _post(ticket, driver)


def test_empty_message_is_refused(ticket, driver):
    with pytest.raises(DisputeError, match="Write a message"):
        _post(ticket, driver, "   ")


def test_attachments_are_stored_with_their_sniffed_type(ticket, driver):
    message = _post(ticket, driver, attachments=[SimpleUploadedFile("receipt.pdf", PDF, "application/pdf"),
                                                 SimpleUploadedFile("screen.png", PNG, "image/png")])
    files = list(message.attachments.all())
    assert [(f.original_name, f.content_type, f.size) for f in files] == [
        ("receipt.pdf", "application/pdf", len(PDF)), ("screen.png", "image/png", len(PNG))]
    assert files[0].file.read() == PDF
    assert not files[0].file.name.endswith("receipt.pdf")  # generated name


def test_attachment_over_the_size_limit_is_refused_and_nothing_written(ticket, driver, settings):
    settings.DISPUTE_ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(DisputeError, match="larger than"):
        _post(ticket, driver, attachments=[SimpleUploadedFile("receipt.pdf", PDF, "application/pdf")])
    assert TicketMessage.objects.count() == 1
    assert not MessageAttachment.objects.exists()


def test_attachment_of_a_forbidden_type_is_refused(ticket, driver):
    exe = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00", "application/pdf")
    with pytest.raises(DisputeError, match="not a file type"):
        _post(ticket, driver, attachments=[exe])


def test_attachment_whose_name_lies_about_its_type_is_refused(ticket, driver):
    with pytest.raises(DisputeError, match="does not match"):
        _post(ticket, driver, attachments=[SimpleUploadedFile("photo.jpg", PDF, "image/jpeg")])


def test_too_many_attachments_are_refused(ticket, driver, settings):
    settings.DISPUTE_ATTACHMENT_MAX_FILES = 1
    files = [SimpleUploadedFile(f"r{i}.pdf", PDF, "application/pdf") for i in range(2)]
    with pytest.raises(DisputeError, match="At most 1"):
        _post(ticket, driver, attachments=files)
