"""What a call's ``connect`` reply tells the call server: who called whom, and how."""

from __future__ import annotations

from collections.abc import Mapping

from ..channel import CallInfo
from .times import switch_time

# The channel variables the call server reads. Only these are kept of the
# connect reply: a SIP call's has some 140 headers, about 20 KB held per call.
CALL_VARIABLES = frozenset(
    {
        "vox_call_id",
        "vox_make_call",
        "vox_whisper",
        "vox_record",
        "vox_detect",
        "direction",
        "app_disable_expand_variables",
        "playback_delimiter",
        "playback_terminators",
        "sleep_eat_digits",
        "sip_to_host",
        "sip_req_host",
        "sip_h_X-Forwarded-For",
        "sip_network_ip",
    }
)


def call_info_from(channel_data: Mapping[str, str]) -> CallInfo:
    """Read who called whom from the ``connect`` reply's channel data."""
    get = channel_data.get
    variables = {
        name: channel_data["variable_" + name] for name in CALL_VARIABLES if "variable_" + name in channel_data
    }
    direction = get("Call-Direction") or variables.get("direction", "inbound")
    return CallInfo(
        uuid=get("Unique-ID", ""),
        direction="outbound" if variables.get("vox_make_call") == "true" else direction,
        caller=get("Caller-Caller-ID-Number", "") or get("Caller-ANI", ""),
        caller_name=get("Caller-Caller-ID-Name", ""),
        destination=get("Caller-Destination-Number", ""),
        variables=variables,
        sip_domain=variables.get("sip_to_host", "") or variables.get("sip_req_host", ""),
        sip_forwarded_for=variables.get("sip_h_X-Forwarded-For", "") or variables.get("sip_network_ip", ""),
        answered=get("Answer-State") == "answered",
        answered_at=switch_time(get("Caller-Channel-Answered-Time")),
        switch_name=get("FreeSWITCH-Switchname", ""),
    )
