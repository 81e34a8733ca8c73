"""Text messages: send one (``POST /v1/Dials/SMS``, as the vendor's tutorials
do), and the account's messages, sent and received."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, request

from .. import db
from ..esl.sms import send_text_on_link
from ..messages import STATUSES, MessageBook, message_json, receipt_subject
from ..models import Message
from .common import (
    account_id,
    callbacks,
    json_body,
    obj,
    owned,
    paged,
    per_worker,
    phone_number,
    settings,
    string,
    switch_errors,
    switches,
)
from .errors import ApiError, bad_field, not_found

bp = Blueprint("messages", __name__)


def message_book() -> MessageBook:
    """This worker's book, which tells status URLs (sent, failed, delivered) itself."""
    return per_worker("VOX_MESSAGES", lambda settings: MessageBook.from_settings(settings, callbacks()))


@bp.post("/Dials/SMS")
def send_sms():
    body = json_body()
    call = obj(body, "call", "call", required=True)
    if call.get("no") is None:
        raise bad_field("call.no", "call.no is required")
    if call.get("caller_id_no") is None:
        raise bad_field("call.caller_id_no", "call.caller_id_no is required")
    to_no = phone_number(call.get("no"), "call.no")
    from_no = phone_number(call.get("caller_id_no"), "call.caller_id_no")
    text = string(body, "message", "message", required=True, max_length=100000)
    status_url = string(body, "status_url", "status_url", max_length=2048)
    book = message_book()
    refused = book.refusal(account_id(), from_no, to_no, text)
    if refused is not None:
        field, message = refused
        raise bad_field({"text": "message", "to": "call.no", "from": "call.caller_id_no"}[field], message)
    if book.provider is not None:
        # The provider's answer is in the response: sent, or failed with its reason.
        message_id = book.queue(account_id=account_id(), from_no=from_no, to_no=to_no, text=text, status_url=status_url)
        book.send(message_id, from_no, to_no, text, via_switch=None)
    else:
        links = switches()
        with switch_errors():
            link = links.pick()
        message_id = book.queue(
            account_id=account_id(), from_no=from_no, to_no=to_no, text=text, status_url=status_url, switch=link.name
        )
        try:
            with switch_errors():
                send_text_on_link(link, message_id, from_no, to_no, text)
        except ApiError:
            book.fail(message_id, "the switch could not be reached")
            raise
    with db.database.connection_context():
        return message_json(Message.get_by_id(message_id)), 201


@bp.post("/Messages/<message_id>/Receipt")
def delivery_receipt(message_id):
    """A provider's delivery receipt: no API key (the provider has none of
    ours) but the URL we signed for this message; JSON or a form."""
    message_id = message_id[:64]
    book = message_book()
    expires, signature = request.args.get("expires") or "", request.args.get("signature") or ""
    if book.signer is None or not book.signer.valid(receipt_subject(message_id), expires, signature):
        raise ApiError(403, "forbidden", "the signed URL is not valid or has expired", "signature")
    field = settings().sms_receipt_status_field
    fields = request.get_json(silent=True) if request.is_json else request.form
    status = (fields or {}).get(field) if isinstance(fields, Mapping) else None
    if not isinstance(status, str) or not status.strip():
        raise bad_field(field, f"{field} is required: the message's delivery status")
    with db.database.connection_context():
        if Message.get_or_none(Message.id == message_id, Message.direction == "outbound") is None:
            raise not_found("no such message", "message_id")
    book.receipt(message_id, status)
    with db.database.connection_context():
        return {"id": message_id, "status": Message.get_by_id(message_id).status}


@bp.get("/Messages")
def list_messages():
    query = Message.select().where(Message.account == account_id())
    direction = request.args.get("direction")
    if direction:
        if direction not in ("inbound", "outbound"):
            raise bad_field("direction", "direction must be inbound or outbound")
        query = query.where(Message.direction == direction)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise bad_field("status", "status must be one of " + ", ".join(STATUSES))
        query = query.where(Message.status == status)
    return paged("messages", query, [Message.created_at.desc(), Message.id], message_json)


@bp.get("/Messages/<message_id>")
def get_message(message_id):
    return message_json(owned(Message, Message.id == message_id[:64], "no such message", "message_id"))
