"""Calls with more legs in the fake FreeSWITCH: dial strings, originate, bridge.

Every dialled leg gets its fate from ``switch.originate_policy``; the
``originate`` API command starts the leg's own program, the ``bridge``
application joins the leg to the calling channel until one side hangs up.
"""

import time

import gevent

from . import wire
from .causes import CAUSE_CODE, str2cause
from .channel import FakeCall
from .expand import separate_string, switch_true
from .registry import api_command, application

# DIALSTATUS names some causes its own way (bridge_outcomes.*.log: USER_BUSY -> BUSY).
DIALSTATUS = {"USER_BUSY": "BUSY"}


def _parse_dialstring(ds):
    """'{a=b,c=d}[e=f]endpoint/x/y' -> (vars dict, 'endpoint/x/y')."""
    vars = {}
    ds = ds.strip()
    while ds and ds[0] in "{[<":
        close = {"{": "}", "[": "]", "<": ">"}[ds[0]]
        end = ds.find(close)
        if end < 0:
            break
        for part in separate_string(ds[1:end], ",", 1024):
            k, sep, v = part.partition("=")
            if sep and k.strip():
                vars[k.strip()] = v
        ds = ds[end + 1 :]
    return vars, ds


def _new_leg(switch, dialstring, vars, uuid=None):
    """Create an outbound leg (not yet answered) for dialstring."""
    _, target = _parse_dialstring(dialstring)
    parts = target.split("/")
    if parts[0] == "loopback" and len(parts) > 1:
        dest, name = parts[1], "loopback/%s-a" % parts[1]
    else:
        dest, name = parts[-1].split("@")[0], target
    call = FakeCall(
        switch,
        dest,
        vars.get("origination_caller_id_number", "0000000000"),
        vars.get("origination_caller_id_name", "Outbound Call"),
        channel_vars=vars,
        direction="outbound",
        uuid=uuid,
        channel_name=name,
    )
    call.caller_name = vars.get("origination_caller_id_name", "Outbound Call")
    switch.calls[call.uuid] = call
    switch._fire_create(call, originate=True)
    return call


def _dial(switch, dialstring, vars, wait_for=None):
    """Apply originate_policy to one dial string.

    Returns (leg, None) for an answered leg or (None, cause)."""
    gvars, _ = _parse_dialstring(dialstring)
    allvars = dict(vars)
    allvars.update(gvars)
    outcome = switch.originate_policy(dialstring, allvars) or ("answer", 0)
    kind = outcome[0]
    if _parse_dialstring(dialstring)[1].startswith("error/") and kind != "answer":
        # The error endpoint creates no channel: no leg, no leg events.
        return None, "USER_BUSY" if kind == "busy" else str2cause(outcome[-1], "NORMAL_TEMPORARY_FAILURE")
    uuid = allvars.get("origination_uuid")
    leg = _new_leg(switch, dialstring, allvars, uuid=uuid)
    if kind == "answer":
        delay = outcome[1] if len(outcome) > 1 else 0
        if delay:
            leg._mark_ring_ready()
            if wait_for is not None:
                reason, _ = wait_for._wait(delay * switch.time_scale / 1000.0, breakable=False)
                if reason == "hangup":
                    _fail_leg(switch, leg, "ORIGINATOR_CANCEL")
                    return None, "ORIGINATOR_CANCEL"
            else:
                gevent.sleep(delay * switch.time_scale / 1000.0)
        leg._mark_answered()
        if wait_for is not None and _screened(allvars):
            return _await_screening(switch, leg, allvars, wait_for)
        return leg, None
    if kind == "busy":
        cause = "USER_BUSY"
    elif kind == "noanswer":
        # The leg rings out its leg_timeout: ALLOTTED_TIMEOUT (bridge_outcomes.*.log).
        cause = "ALLOTTED_TIMEOUT" if wait_for is not None and allvars.get("leg_timeout") else "NO_ANSWER"
        leg._mark_ring_ready()
        secs = allvars.get("leg_timeout") or allvars.get("originate_timeout") or "60"
        try:
            secs = float(secs)
        except ValueError:
            secs = 60.0
        if wait_for is not None:
            wait_for._wait(secs * switch.time_scale, breakable=False)
        else:
            gevent.sleep(secs * switch.time_scale)
    else:
        cause = str2cause(outcome[1] if len(outcome) > 1 else "NORMAL_TEMPORARY_FAILURE", "NORMAL_TEMPORARY_FAILURE")
    _fail_leg(switch, leg, cause)
    return None, cause


def _screened(vars):
    return (vars.get("group_confirm_key") or "").lower() == "exec"


def _screen(leg, vars):
    """group_confirm_key=exec (switch_ivr_originate.c, collect_thread_run): the
    application in group_confirm_file runs on the answered leg in a thread of
    its own; the leg wins if it is still up when the application returns."""
    app, _, arg = (vars.get("group_confirm_file") or "").partition(" ")
    return gevent.spawn(leg.execute_application, app, arg)


def _await_screening(switch, leg, vars, a):
    """One screened leg: bridged once it accepts; (None, cause) when it refuses or a hangs up."""
    screening = _screen(leg, vars)
    while not screening.dead:
        reason, _ = a._wait(0.02, breakable=False)
        if reason == "hangup":
            _fail_leg(switch, leg, "ORIGINATOR_CANCEL")
            return None, "ORIGINATOR_CANCEL"
    if leg.down:
        return None, leg.hangup_cause or "NORMAL_CLEARING"
    return leg, None


# The SIP answer a far end refuses a sofia leg with, by its cause.
FAR_END_SIP = {"USER_BUSY": 486, "CALL_REJECTED": 603, "UNALLOCATED_NUMBER": 404, "NORMAL_TEMPORARY_FAILURE": 503}


def _fail_leg(switch, leg, cause):
    if leg.channel_name.startswith("sofia/") and cause in FAR_END_SIP:
        # Set on the leg before its CHANNEL_HANGUP (bridge_leg_ends.outbound.log: sip_term_status 486).
        leg.set_var("sip_term_status", str(FAR_END_SIP[cause]))
        leg.set_var("proto_specific_hangup_cause", f"sip:{FAR_END_SIP[cause]}")
    leg._hangup(cause, from_app=True)
    leg.start([])


def originate(switch, arg):
    argv = separate_string(arg or "", " ", 10)
    if len(argv) < 2:
        return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
    url, ext = argv[0], argv[1]
    first = url.split("|")[0]
    _vars, _target = _parse_dialstring(first)
    # vars before the first target apply to all
    leg, cause = _dial(switch, first, {})
    if leg is None:
        return "-ERR %s\n" % cause
    if ext.startswith("&"):
        app, _, rest = ext[1:].partition("(")
        args = rest[: rest.rfind(")")] if ")" in rest else rest
        program = [(app, args)]
    else:
        program = [("set", "app_disable_expand_variables=true"), ("socket", "%s:%d async full" % switch.outbound)]
    leg.start(program)
    return "+OK %s\n" % leg.uuid


@application("bridge")
def app_bridge(a, arg):
    """The bridge application on channel a."""
    switch = a.switch
    vars, rest = _parse_dialstring(arg)
    targets = [t for t in _split_outside_brackets(rest, "|") if t.strip()] or [rest]
    cause = "NORMAL_TEMPORARY_FAILURE"
    for t in targets:
        together = [x for x in _split_outside_brackets(t, ",") if x.strip()]
        if len(together) > 1:
            b, cause = _dial_together(switch, together, vars, a)
        else:
            tvars = dict(vars)
            legvars, clean = _parse_dialstring(together[0] if together else t)
            tvars.update(legvars)
            b, cause = _dial(switch, clean, tvars, wait_for=a)
        if b is None:
            if a.down:
                return
            continue
        _bridge_legs(switch, a, b)
        return
    a.set_var("originate_disposition", cause)
    a.set_var("DIALSTATUS", DIALSTATUS.get(cause, cause))
    a.set_var("originate_failed_cause", cause)
    a.set_var("last_bridge_hangup_cause", cause)
    cof = a.get_var("continue_on_fail")
    if cof is None or not (switch_true(cof) or cause in cof.split(",") or str(CAUSE_CODE(cause)) in cof.split(",")):
        a._hangup(cause, from_app=True)


def _split_outside_brackets(text, sep):
    """Split a dial string's legs on ``sep``, not inside ``[...]`` or ``{...}``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{<":
            depth += 1
        elif ch in "]}>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _dial_together(switch, dialstrings, vars, a):
    """Legs rung at once (``,``): the first to answer wins and the others are
    hung up with LOSE_RACE; when none answers, the cause is NO_ANSWER if the
    ring time ran out (bridge_simultaneous.*.log), else the first failure.
    Returns (leg, None) or (None, cause)."""
    plans = []
    for ds in dialstrings:
        tvars = dict(vars)
        legvars, clean = _parse_dialstring(ds)
        tvars.update(legvars)
        outcome = switch.originate_policy(clean, tvars) or ("answer", 0)
        leg = _new_leg(switch, clean, tvars, uuid=tvars.get("origination_uuid"))
        kind = outcome[0]
        if kind == "answer":
            at = (outcome[1] if len(outcome) > 1 else 0) / 1000.0
        elif kind == "noanswer":
            at = float(tvars.get("leg_timeout") or tvars.get("originate_timeout") or 60)
        else:
            at = 0.0
        if kind in ("answer", "noanswer") and at:
            leg._mark_ring_ready()
        plans.append([at * switch.time_scale, kind, outcome, leg])
    plans.sort(key=lambda plan: plan[0])
    started, causes, screening = time.monotonic(), [], []  # screening: [(greenlet, leg)]
    while plans or screening:
        elapsed = time.monotonic() - started
        wait = max(0.0, plans[0][0] - elapsed) if plans else 0.02
        reason, _ = a._wait(min(wait, 0.02) if screening else wait, breakable=False)
        if reason == "hangup":
            for other in [plan[3] for plan in plans] + [leg for _g, leg in screening]:
                _fail_leg(switch, other, "ORIGINATOR_CANCEL")
            return None, "ORIGINATOR_CANCEL"
        for done in [entry for entry in screening if entry[0].dead]:
            screening.remove(done)
            if not done[1].down:  # accepted: the others lose the race
                for other in [plan[3] for plan in plans] + [leg for _g, leg in screening]:
                    _fail_leg(switch, other, "LOSE_RACE")
                return done[1], None
            causes.append(done[1].hangup_cause or "NORMAL_CLEARING")
        while plans and plans[0][0] <= time.monotonic() - started:
            _at, kind, outcome, leg = plans.pop(0)
            if kind == "answer":
                leg._mark_answered()
                if _screened(leg.vars):
                    screening.append((_screen(leg, leg.vars), leg))
                    continue
                for other in [plan[3] for plan in plans] + [other for _g, other in screening]:
                    _fail_leg(switch, other, "LOSE_RACE")
                return leg, None
            if kind == "busy":
                cause = "USER_BUSY"
            elif kind == "noanswer":
                cause = "NO_ANSWER"
            else:
                cause = str2cause(outcome[1] if len(outcome) > 1 else "", "NORMAL_TEMPORARY_FAILURE")
            causes.append(cause)
            _fail_leg(switch, leg, cause)
    return None, "NO_ANSWER" if "NO_ANSWER" in causes else (causes[0] if causes else "NORMAL_TEMPORARY_FAILURE")


def bridge_ids(a, b):
    return [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)]


def join_legs(a, b):
    """a (the originator's side) and b are bridged until one is down (bridge, fifo)."""
    a.partner, a.partner_role = b, "originatee"
    b.partner, b.partner_role = a, "originator"
    a.fire("CHANNEL_BRIDGE", pre=bridge_ids(a, b))
    # bridge_terminate_key (switch_ivr_originate.c, o_bridge_on_dtmf): that key
    # pressed on the A leg ends the bridge.
    key = (a.get_var("bridge_terminate_key") or "").upper()
    while not a.down and not b.down:
        if key and key in a._dtmf:
            a._dtmf.remove(key)
            break
        a._wake.clear()
        a._wake.wait()


def _bridge_legs(switch, a, b, program_b=True):
    # A bridged leg runs no application of its own (its events reach a caller
    # that filters on it: bridge_leg_ends.outbound.log has none), it just lives.
    b.start([(None, None)]) if program_b else None
    a.set_var("originate_disposition", "SUCCESS")
    a.set_var("DIALSTATUS", "SUCCESS")
    a.set_var("last_bridge_to", b.uuid)
    a.set_var("bridge_channel", b.channel_name)
    a.set_var("bridge_uuid", b.uuid)
    a.set_var("signal_bond", b.uuid)
    now = wire.now_us()
    a.times["bridged"] = b.times["bridged"] = now
    join_legs(a, b)
    if b.down:
        a.set_var("last_bridge_hangup_cause", b.hangup_cause)
        a.set_var("bridge_hangup_cause", b.hangup_cause)
    else:
        b._hangup("NORMAL_CLEARING", from_app=False)
    a.fire("CHANNEL_UNBRIDGE", pre=bridge_ids(a, b))
    a.partner = b.partner = None
    if not a.down and switch_true(a.get_var("hangup_after_bridge")):
        a._hangup(b.hangup_cause or "NORMAL_CLEARING", from_app=True)


@api_command("originate")
def api_originate(switch, arg, session):
    return originate(switch, arg)


@api_command("uuid_bridge")
def api_uuid_bridge(switch, arg, session):
    argv = (arg or "").split()
    if len(argv) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = switch._call(argv[0]), switch._call(argv[1])
    if a is None or b is None:
        return "-ERR Invalid uuid\n"
    # switch_ivr_uuid_bridge: both leave what they run for an extension of
    # one application, uuid_bridge (hold.outbound.log: the held channel's
    # endless_playback and socket applications complete, then it runs).
    for c, other in ((a, b), (b, a)):
        c._transfer = [("uuid_bridge", other.uuid)]
        c.uuid_bridge_side = "a" if c is a else "b"
        if c._running:
            c._break = True
        c._wake.set()
    return "+OK %s\n" % b.uuid


@application("uuid_bridge")
def app_uuid_bridge(call, arg):
    """The two legs talk until one hangs up; with park_after_bridge the one
    left is parked (CHANNEL_PARK) and its socket drives it again."""
    other = call.switch._call(arg)
    if other is None:
        return
    if getattr(call, "uuid_bridge_side", "a") == "b":
        while not call.down and not other.down:
            call._wake.clear()
            call._wake.wait(0.05)
    else:
        a, b = call, other
        a.times["bridged"] = b.times["bridged"] = wire.now_us()
        join_legs(a, b)
        if a.down and not b.down:
            b._hangup("NORMAL_CLEARING")
        a.fire("CHANNEL_UNBRIDGE", pre=bridge_ids(a, b))
        a.partner = b.partner = None
    if not call.down and switch_true(call.get_var("park_after_bridge")):
        call.fire("CHANNEL_PARK")
        call._park()
    elif not call.down:
        call._hangup(other.hangup_cause or "NORMAL_CLEARING", from_app=True)
