"""What a message may carry: at most DISPUTE_ATTACHMENT_MAX_FILES files, each at most
DISPUTE_ATTACHMENT_MAX_BYTES, of a type in DISPUTE_ATTACHMENT_TYPES.

The type is read from the file's first bytes, not from the name or the browser's claim, and the
name's extension must agree with it. The form and the service both call `validate_attachments`.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt", ".log", ".csv"),
}
_SNIFF_BYTES = 2048


def sniff_content_type(head: bytes) -> str | None:
    """The type of a file from its first bytes; None when unrecognised."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut at the sniffing limit is still text
        if error.start < len(head) - 3:
            return None
    return "text/plain"


def _read_head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    return head


def validate_attachment(upload: UploadedFile) -> str:
    """Check one file; returns its content type. Raises ValidationError with a message for the sender."""
    limit = settings.DISPUTE_ATTACHMENT_MAX_BYTES
    name = upload.name or "file"
    if upload.size is None or upload.size > limit:
        raise ValidationError(_("%(name)s is larger than %(size)s.") % {"name": name, "size": filesizeformat(limit)})
    if upload.size == 0:
        raise ValidationError(_("%(name)s is empty.") % {"name": name})
    content_type = sniff_content_type(_read_head(upload))
    allowed = settings.DISPUTE_ATTACHMENT_TYPES
    if content_type not in allowed:
        kinds = ", ".join(ext for t in allowed for ext in EXTENSIONS.get(t, ()))
        raise ValidationError(_("%(name)s is not a file type we accept (%(kinds)s).") % {"name": name, "kinds": kinds})
    if not name.lower().endswith(EXTENSIONS[content_type]):
        raise ValidationError(_("%(name)s: the name does not match its content (%(type)s).") % {
            "name": name, "type": content_type})
    return content_type


def validate_attachments(uploads: Sequence[UploadedFile]) -> list[str]:
    """Check every file of a message; returns their content types in order."""
    most = settings.DISPUTE_ATTACHMENT_MAX_FILES
    if len(uploads) > most:
        raise ValidationError(_("At most %(most)s files per message.") % {"most": most})
    errors, types = [], []
    for upload in uploads:
        try:
            types.append(validate_attachment(upload))
        except ValidationError as error:
            errors.extend(error.messages)
    if errors:
        raise ValidationError(errors)
    return types


def stored_name(content_type: str) -> str:
    """A generated file name: never the sender's, so no path tricks and no collisions."""
    return f"{uuid.uuid4().hex}{EXTENSIONS[content_type][0]}"
