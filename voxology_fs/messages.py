"""Text messages: stored, sent through a switch, reported on, and received.

Sending: the record is written ``queued``, then an ``SMS::SEND_MESSAGE``
event goes to a switch (the call's socket, or a REST worker's link); the
switch's ``SMS::DELIVERY_REPORT`` reaches every watcher, and the one that
claims it marks the message ``sent`` (the next hop answered 2xx) or
``failed``.  With an HTTP provider (``sms_provider_url``) the provider's
answer says ``sent`` or ``failed`` instead, and its delivery receipt, to a
signed URL of ours, says ``delivered`` or ``failed``.  Receiving: a SIP MESSAGE from a trunk address reaches every
watcher as ``RECV_MESSAGE``; the one that claims it stores the message and
sends the number's configuration one ``sms`` request, whose answer may be
SMS actions (a reply).  A MESSAGE from anywhere else is logged and dropped.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import gevent

from . import db, numbers
from .callbacks import CallbackError, CallbackTarget
from .models import CallFlowConfig, Message, PhoneNumber
from .recordings import UrlSigner
from .sms_provider import SmsProvider
from .timeutil import iso, utcnow

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
STATUSES = ("queued", "sent", "delivered", "failed", "received")
# What a provider's receipt may say, as ours; any other status changes nothing.
RECEIPT_STATUSES = {
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "rejected": "failed",
    "expired": "failed",
}
# Providers retry receipts for days.
RECEIPT_URL_TTL_S = 7 * 24 * 3600


class MessageBook:
    """The messages of every account (Services.messages, the watcher, the REST API)."""

    def __init__(
        self,
        callbacks=None,
        max_length: int = 1600,
        trunk_addresses=("127.0.0.1",),
        provider: SmsProvider | None = None,
        signer: UrlSigner | None = None,
    ):
        self.callbacks = callbacks
        self.max_length = max_length
        self.trunk_addresses = frozenset(trunk_addresses)
        # None: texts go through the switch.
        self.provider = provider
        self.signer = signer

    @classmethod
    def from_settings(cls, settings, callbacks=None) -> MessageBook:
        return cls(
            callbacks,
            settings.max_sms_length,
            settings.sms_trunk_addresses,
            SmsProvider.from_settings(settings),
            UrlSigner.from_settings(settings),
        )

    # -- sending -------------------------------------------------------------------
    def refusal(self, account_id: str, from_no: str, to_no: str, text: str) -> tuple[str, str] | None:
        """Why this message may not be sent, as (field, message), or None."""
        if not text:
            return "text", "text is empty"
        if len(text) > self.max_length:
            return "text", f"text is {len(text)} characters; at most {self.max_length} are sent"
        if not E164.match(to_no or ""):
            return "to", f"to must be an E.164 number, got {to_no!r}"
        if not E164.match(from_no or ""):
            return "from", f"from must be an E.164 number, got {from_no!r}"
        with db.database.connection_context():
            number = PhoneNumber.get_or_none(PhoneNumber.number == from_no, PhoneNumber.account == account_id)
        if number is None:
            return "from", f"{from_no} is not a number of this account"
        if "sms" not in {c.strip().lower() for c in (number.capabilities or "").replace(";", ",").split(",")}:
            return "from", f"{from_no} cannot send texts (no sms capability)"
        return None

    def queue(self, *, account_id, from_no, to_no, text, call_id=None, status_url=None, switch="") -> str:
        with db.unit_of_work():
            message = Message.create(
                account=account_id,
                direction="outbound",
                from_no=from_no,
                to_no=to_no,
                text=text,
                status="queued",
                call=call_id,
                status_url=status_url,
                switch=switch,
            )
        return message.id

    def send(self, message_id: str, from_no: str, to_no: str, text: str, via_switch, wait: bool = True) -> None:
        """Send a queued message: through the HTTP provider when there is one
        (``wait``: before returning), else ``via_switch(message_id, from, to,
        text)``, whose outcome comes later as the switch's delivery report."""
        if self.provider is None:
            via_switch(message_id, from_no, to_no, text)
        elif wait:
            self._through_provider(message_id, from_no, to_no, text)
        else:
            gevent.spawn(self._through_provider, message_id, from_no, to_no, text)

    def _through_provider(self, message_id: str, from_no: str, to_no: str, text: str) -> None:
        assert self.provider is not None and self.signer is not None
        receipt_url = self.signer.signed(
            f"/v1/Messages/{message_id}/Receipt", receipt_subject(message_id), ttl=RECEIPT_URL_TTL_S
        )
        answer = self.provider.send(
            message_id=message_id, from_no=from_no, to_no=to_no, text=text, receipt_url=receipt_url
        )
        if answer.ok:
            self._set(message_id, "sent")
        else:
            log.warning("message %s: %s", message_id, answer.error)
            self.fail(message_id, answer.error)

    def receipt(self, message_id: str, provider_status: str) -> str | None:
        """A provider's delivery receipt; returns the status it set, or None."""
        status = RECEIPT_STATUSES.get(provider_status.strip().lower())
        if status is None:
            return None
        error = None if status == "delivered" else f"the provider reported it {provider_status.strip().lower()}"
        # A receipt can overtake the provider's own answer: queued moves too.
        return status if self._set(message_id, status, error=error, was=("queued", "sent")) else None

    def fail(self, message_id: str, error: str) -> None:
        self._set(message_id, "failed", error=error)

    def delivery_report(self, headers) -> None:
        """The switch's outcome of one of our messages (``SMS::DELIVERY_REPORT``)."""
        message_id = headers.get("vox_message_id") or ""
        try:
            code = int(headers.get("Delivery-Result-Code") or "")
        except ValueError:
            code = None
        if headers.get("Status") == "Success":
            self._set(message_id, "sent", sip_code=code)
        else:
            self._set(message_id, "failed", sip_code=code, error=f"the next hop refused it (SIP {code})")

    def _set(self, message_id: str, status: str, sip_code=None, error=None, was=("queued",)) -> bool:
        # Only forward: a late answer never undoes a receipt.
        with db.unit_of_work():
            changed = (
                Message.update(status=status, sip_code=sip_code, error=error, updated_at=utcnow())
                .where(Message.id == message_id, Message.status.in_(list(was)))
                .execute()
            )
            message = Message.get_or_none(Message.id == message_id)
        if changed and message is not None and message.status_url and self.callbacks is not None:
            target = CallbackTarget(url=message.status_url)
            self.callbacks.fire_and_forget(target, {"type": "sms_status", **message_json(message)})
        return bool(changed)

    # -- receiving -----------------------------------------------------------------
    def received(self, headers, text: str, send_reply) -> str | None:
        """A MESSAGE that reached the switch: store it, tell its number's
        configuration, send the SMS replies it answers with (``send_reply(from,
        to, text, message_id)``). Returns the message id, or None when dropped."""
        source = headers.get("from_sip_ip") or ""
        from_no = numbers.try_normalize(headers.get("from_user") or "")
        to_no = numbers.try_normalize(headers.get("to_user") or "")
        if source not in self.trunk_addresses:
            log.warning("SIP MESSAGE from %s dropped: not a trunk address", source)
            return None
        if from_no is None or to_no is None:
            log.warning("SIP MESSAGE dropped: its numbers are not phone numbers")
            return None
        with db.database.connection_context():
            number = PhoneNumber.get_or_none(PhoneNumber.number == to_no)
            config = CallFlowConfig.get_or_none(CallFlowConfig.phone_number == to_no) if number else None
        if number is None or number.account_id is None:
            log.warning("SIP MESSAGE to %s dropped: not a number of ours", to_no)
            return None
        with db.unit_of_work():
            message = Message.create(
                account=number.account_id,
                direction="inbound",
                from_no=from_no,
                to_no=to_no,
                text=text,
                status="received",
            )
        if config is None or self.callbacks is None:
            return message.id
        fields = _sms_fields(message, number.application_id)
        target = CallbackTarget(config.url, config.method, config.content_type)
        try:
            answer = self.callbacks.request_json(target, fields)
        except CallbackError as exc:
            log.warning("message %s: its callback failed: %s", message.id, exc)
            return message.id
        for reply_to, reply_from, reply_text in self._replies(answer, message):
            if self.refusal(number.account_id, reply_from, reply_to, reply_text) is not None:
                log.warning("message %s: a reply was refused", message.id)
                continue
            reply_id = self.queue(account_id=number.account_id, from_no=reply_from, to_no=reply_to, text=reply_text)
            try:
                self.send(reply_id, reply_from, reply_to, reply_text, send_reply)
            except Exception as exc:
                self.fail(reply_id, f"the switch could not be told: {exc}")
        return message.id

    @staticmethod
    def _replies(answer, message: Message):
        """The SMS actions of a callback's answer, rendered: (to, from, text) each."""
        from .flow.errors import FlowError
        from .flow.parser import parse_response
        from .flow.state import CallState

        if not answer:
            return []
        try:
            actions = parse_response(answer)
        except FlowError as exc:
            log.warning("message %s: its callback answered an invalid flow: %s", message.id, exc)
            return []
        state = CallState(call_id=message.id, direction="inbound", caller_no=message.from_no, api_no=message.to_no)
        ctx = SimpleNamespace(lookup=state.lookup)
        out = []
        for action in actions:
            if getattr(action, "type", "") != "SMS":
                continue
            out.append(
                (
                    action.render(ctx, "to") or message.from_no,
                    action.render(ctx, "from") or message.to_no,
                    action.render(ctx, "text") or "",
                )
            )
        return out


def receipt_subject(message_id: str) -> str:
    """What a receipt URL is signed for: never a recording's id alone."""
    return f"sms-receipt:{message_id}"


def _sms_fields(message: Message, app_id) -> dict:
    caller, api = numbers.geography(message.from_no), numbers.geography(message.to_no)
    return {
        "type": "sms",
        "app_id": app_id or "",
        "message_id": message.id,
        "caller_no": message.from_no,
        "caller_no_city": caller.city,
        "caller_no_region": caller.region,
        "caller_no_country": caller.country,
        "caller_no_timezone": caller.timezone,
        "api_no": message.to_no,
        "api_no_city": api.city,
        "api_no_region": api.region,
        "api_no_country": api.country,
        "api_no_timezone": api.timezone,
        "text_message": message.text,
    }


def message_json(message: Message) -> dict:
    return {
        "id": message.id,
        "message_id": message.id,
        "direction": message.direction,
        "from": message.from_no,
        "to": message.to_no,
        "text": message.text,
        "status": message.status,
        "error": message.error,
        "sip_code": message.sip_code,
        "call_id": message.call_id,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
    }
