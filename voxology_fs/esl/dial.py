"""Dial strings and ``originate`` commands, built from checked parts only.

A dial string is ``{name=value,...}endpoint``: channel variables for the new
channel, then the endpoint that the operator's ``dial_string`` template
names, with the number put in.  ``originate`` (Make Call, caller-ID
verification) and ``bridge`` take the same form; ``[...]`` holds the
variables of one leg among several.

FreeSWITCH splits a variable list on ``,``, unquotes and unescapes it, and
expands ``${...}`` in places; rather than escape for each of those, every
value is held to characters that none of them touch, and anything else is
refused.  Numbers are E.164, so they can never carry dial-string syntax
(``,|{}[]^$``: more legs, more variables, expansions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# ``!`` is our playback_delimiter; ``+`` starts E.164; ``@ : /`` are in addresses.
VALUE = re.compile(r"^[A-Za-z0-9_+\-.:/@!]{1,256}$")
SOCKET_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-:\[\]]+:[0-9]{1,5}$")  # host (IPv6 in brackets) and port
APPLICATION = re.compile(r"^[a-z_]{1,32}$")


def _matching(pattern: re.Pattern, value, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


def check_number(number: str) -> str:
    """An E.164 number, or ValueError."""
    return _matching(E164, number, "an E.164 number")


def check_uuid(value: str) -> str:
    """A lowercase uuid (our call and channel ids), or ValueError."""
    return _matching(UUID, value, "a uuid")


def variable(name: str, value: object) -> str:
    """``name=value`` for a variable list; ValueError unless both need no escaping."""
    if not VARIABLE_NAME.match(name):
        raise ValueError(f"bad channel variable name {name!r}")
    if isinstance(value, bool):
        value = "true" if value else "false"
    value = str(value)
    if not VALUE.match(value):
        raise ValueError(f"unsafe value for {name}: {value!r}")
    return f"{name}={value}"


def variable_list(variables: Mapping[str, object], per_leg: bool = False) -> str:
    """``{a=1,b=2}`` (for every leg), or ``[a=1,b=2]`` (for one leg of several); "" when empty."""
    if not variables:
        return ""
    opening, closing = "[]" if per_leg else "{}"
    return opening + ",".join(variable(name, value) for name, value in variables.items()) + closing


# A SIP URI a TRANSFER may dial: a plain user part and a host (and port);
# nothing in it is dial-string syntax.
SIP_URI = re.compile(r"^sip:[A-Za-z0-9_.+\-]{1,64}@[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$")


def check_sip_uri(uri: str) -> str:
    """A plain ``sip:user@host[:port]``, or ValueError."""
    return _matching(SIP_URI, uri, "a plain sip: URI")


def sip_endpoint(template: str, uri: str) -> str:
    """The operator's SIP template (``sofia/voxology/{uri}``) with a checked URI in it."""
    return template.replace("{uri}", check_sip_uri(uri))


def endpoint(template: str, number: str) -> str:
    """The operator's dial template (``sofia/gateway/trunk/{number}``) with the number in it."""
    return template.replace("{number}", check_number(number))


def dial_string(template: str, number: str, variables: Mapping[str, object], per_leg: bool = False) -> str:
    """Channel variables and endpoint: one leg for ``originate`` or ``bridge``."""
    return variable_list(variables, per_leg) + endpoint(template, number)


def socket_app(address: str) -> str:
    """The application part of an ``originate`` that hands the answered call to our socket."""
    if not SOCKET_ADDRESS.match(address):
        raise ValueError(f"bad socket address {address!r}")
    return f"&socket('{address} async full')"


def inline_app(application: str, arg: str) -> str:
    """``'&app(arg)'``: the quoted application part of an ``originate``.

    The quotes keep the argument one word of ``originate``'s own list, so it
    may hold no quote itself, and no ``$``: nothing of it expands.
    """
    if not APPLICATION.match(application):
        raise ValueError(f"bad application name {application!r}")
    if any(c in arg for c in "'\"\\$\r\n") or "\x00" in arg:
        raise ValueError(f"unsafe {application} argument {arg!r}")
    return f"'&{application}({arg})'"


def screening_variables(socket_address: str, leg_id: str, ring_timeout_s: int, screen_s: int) -> list[str]:
    """A leg's variables for screening by our whisper flow: answered, the
    originate runs our socket on it (``group_confirm_key=exec``) and bridges
    it only if it is up when the socket lets go.  ``leg_timeout`` keeps its
    ringing to the TRANSFER's timeout; ``group_confirm_timeout`` gives the
    whisper ``screen_s`` seconds from the answer."""
    address = _matching(SOCKET_ADDRESS, socket_address, "a socket address")
    return [
        "group_confirm_key=exec",
        # One quoted word: the list is split on commas, the application on its first space.
        f"group_confirm_file='socket {address} async full'",
        variable("group_confirm_timeout", int(screen_s)),
        variable("leg_timeout", int(ring_timeout_s)),
        "vox_whisper=true",
        variable("vox_call_id", check_uuid(leg_id)),
        "app_disable_expand_variables=true",
    ]


def originate_command(dial: str, app: str) -> str:
    """``originate <dial string> <application part>``, for ``bgapi``."""
    return f"originate {dial} {app}"


def call_originate(
    dial_template: str,
    socket_address: str,
    call_id: str,
    to_no: str,
    caller_id_no: str,
    timeout_s: int,
    record: str | None = None,
    detect: str | None = None,
) -> str:
    """The ``originate`` of a call we place (Make Call, DIAL): answered, it
    comes to our socket as the call ``call_id`` and runs that call's flow
    (recorded from the start when ``record`` is mono or dual; after the
    answering-machine ``detect`` mode decides, when given)."""
    if record not in (None, "mono", "dual"):
        raise ValueError(f"bad record choice {record!r}")
    if detect not in (None, "detect", "detect_message_end"):
        raise ValueError(f"bad detection mode {detect!r}")
    variables = {
        "origination_uuid": check_uuid(call_id),
        "vox_call_id": call_id,
        # Marks a placed call for the call server (every call carries vox_call_id).
        "vox_make_call": True,
        # The channel settings our dialplan makes for inbound calls.
        "playback_delimiter": "!",
        "playback_terminators": "none",
        "sleep_eat_digits": True,
        "app_disable_expand_variables": True,
        "origination_caller_id_number": check_number(caller_id_no),
        "originate_timeout": int(timeout_s),
    }
    if record:
        variables["vox_record"] = record
    if detect:
        variables["vox_detect"] = detect
    return originate_command(dial_string(dial_template, to_no, variables), socket_app(socket_address))
