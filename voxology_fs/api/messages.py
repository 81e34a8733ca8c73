"""Text messages: send one (``POST /v1/Dials/SMS``, as the vendor's tutorials
do), and the account's messages, sent and received."""

from __future__ import annotations

from flask import Blueprint, request

from .. import db
from ..esl.sms import send_text_on_link
from ..messages import STATUSES, MessageBook, message_json
from ..models import Message
from .common import account_id, json_body, obj, owned, paged, phone_number, settings, string, switch_errors, switches
from .errors import ApiError, bad_field

bp = Blueprint("messages", __name__)


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
    book = MessageBook.from_settings(settings())
    refused = book.refusal(account_id(), from_no, to_no, text)
    if refused is not None:
        field, message = refused
        raise bad_field({"text": "message", "to": "call.no", "from": "call.caller_id_no"}[field], message)
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
