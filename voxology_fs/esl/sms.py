"""Text messages on FreeSWITCH: the ``SMS::SEND_MESSAGE`` event that sofia sends as SIP MESSAGE.

Not the ``chat`` API, which splits its argument on ``|`` and holds the
link until the next hop answers: the text travels as the event's body,
untouched, and the outcome comes back as an ``SMS::DELIVERY_REPORT``
carrying our ``vox_message_id``.
"""

from __future__ import annotations

import re

from ..channel import CallEnded
from .connection import CommandError, CommandTimeout, NotConnectedError
from .dial import check_uuid

SEND_SUBCLASS = "SMS::SEND_MESSAGE"
REPORT_SUBCLASS = "SMS::DELIVERY_REPORT"
_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PROFILE = re.compile(r"^sofia/([A-Za-z0-9_.-]+)/")


def send_message_event(sms_uri: str, sip_dial_string: str, message_id: str, from_no: str, to_no: str) -> dict[str, str]:
    """The headers of the event for one message (its body is the text)."""
    for number in (from_no, to_no):
        if not _NUMBER.match(number):
            raise ValueError(f"not an E.164 number: {number!r}")
    to = sms_uri.format(number=to_no)
    host = to.split("@", 1)[-1].split(":", 1)[0].split(";", 1)[0]
    profile = _PROFILE.match(sip_dial_string)
    return {
        "Event-Subclass": SEND_SUBCLASS,
        "proto": "sip",
        "dest_proto": "sip",
        "from": f"{from_no}@{host}",
        "from_full": f"sip:{from_no}@{host}",
        "to": to,
        "sip_profile": profile.group(1) if profile else "voxology",
        "type": "text/plain",
        # The report then says what the next hop answered, not only that it was sent.
        "blocking": "true",
        "vox_message_id": check_uuid(message_id),
    }


def send_text_on(channel, message_id: str, from_no: str, to_no: str, text: str) -> None:
    """The SMS action's message, sent on the call's own socket."""
    headers = send_message_event(channel.sms_template, channel.sip_dial_template, message_id, from_no, to_no)
    try:
        channel.session.sendevent("CUSTOM", headers, body=text)
    except (NotConnectedError, CommandTimeout, CommandError) as exc:
        raise CallEnded(channel.hangup_cause) from exc


def send_text_on_link(link, message_id: str, from_no: str, to_no: str, text: str) -> None:
    """A message sent on a switch link of ours (a REST worker's, a watcher's reply)."""
    sw = link.switch
    link.sendevent("CUSTOM", send_message_event(sw.sms_uri, sw.sip_dial_string, message_id, from_no, to_no), text)
