"""SMS of the fake FreeSWITCH: SIP MESSAGE as mod_sms and sofia show it on ESL.

As recorded (tests/data/esl-transcripts/sms.*.log): a ``sendevent CUSTOM``
of subclass ``SMS::SEND_MESSAGE`` (the text is its body) is sent by sofia
as a MESSAGE and answered by an ``SMS::DELIVERY_REPORT`` carrying every
header of the request, ``Status`` Success or Failure and the next hop's
``Delivery-Result-Code``; a MESSAGE that reaches the profile fires
``RECV_MESSAGE`` with its from/to users and hosts and the text as body.
``switch.sms_policy(headers) -> SIP code`` plays the next hop (202 by default).
"""

import gevent

from . import wire
from .registry import switch_state

switch_state("sent_messages", list)
switch_state("sms_policy", lambda: lambda headers: 202)


def send(switch, request):
    """The MESSAGE for a SEND_MESSAGE event, then its delivery report."""
    headers = [(k, v) for k, v in request.headers if k not in ("Event-Name", "Event-Subclass")]
    switch.sent_messages.append((dict(headers), request.body or ""))
    code = switch.sms_policy(dict(headers))
    gevent.sleep(0.005)  # the next hop's answer
    report = wire.Event("CUSTOM", subclass="SMS::DELIVERY_REPORT", standard=False)
    report.add_standard(("mod_sms.c", "send_report", 48))
    report.add("Status", "Success" if 200 <= code < 300 else "Failure")
    for k, v in headers:
        report.add(k, v)
    report.add("Delivery-Result-Code", code)
    report.add("Delivery-Failure", "false" if 200 <= code < 300 else "true")
    switch.fire(report)


def receive(switch, from_no, to_no, text, from_ip="127.0.0.1", from_port=5080):
    """A MESSAGE from ``from_ip`` reaching the profile."""
    ev = wire.Event("RECV_MESSAGE", calling=("sofia_presence.c", "sofia_presence_handle_sip_i_message", 4889))
    for name, value in (
        ("login", "sip:mod_sofia@127.0.0.1:5060"),
        ("proto", "sip"),
        ("to_proto", "sip"),
        ("from", f"{from_no}@{from_ip}"),
        ("from_user", from_no),
        ("from_host", from_ip),
        ("to_user", to_no),
        ("to_host", "127.0.0.1"),
        ("from_sip_ip", from_ip),
        ("from_sip_port", from_port),
        ("to", f"{to_no}@127.0.0.1"),
        ("subject", "SIMPLE MESSAGE"),
        ("context", "voxology"),
        ("type", "text/plain"),
        ("from_full", f"<sip:{from_no}@{from_ip}:{from_port}>;tag=1"),
        ("sip_profile", "voxology"),
    ):
        ev.add(name, value)
    ev.body = text
    switch.fire(ev)
