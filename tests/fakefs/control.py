"""Call-control applications of the fake FreeSWITCH.

answer, pre_answer, ring_ready, respond, hangup, set, export, unset,
multiset, log, info, sched_hangup, park and the no-op ones.
"""

from .causes import SIP_CAUSES, str2cause
from .expand import separate_string
from .registry import application


@application("answer")
def app_answer(call, arg):
    call._mark_answered()


@application("pre_answer")
def app_pre_answer(call, arg):
    call._mark_pre_answered()


@application("ring_ready")
def app_ring_ready(call, arg):
    call._mark_ring_ready()


@application("respond")
def app_respond(call, arg):
    code_s = (arg or "").strip().split(" ", 1)[0]
    try:
        code = int(code_s)
    except ValueError:
        return
    call.sip_response = code
    if code == 180:
        call._mark_ring_ready()
    elif code == 183:
        call._mark_pre_answered()
    elif 200 <= code < 300:
        call._mark_answered()
    elif code >= 300 and not call.answered and call.sip:
        # A SIP channel sends the final response and hangs up; a loopback
        # channel has no SIP leg and stays up (checked against a real switch
        # in tests/integration/test_fake_matches_real.py).
        call._hangup(SIP_CAUSES.get(code, "NORMAL_UNSPECIFIED"), from_app=True)


@application("hangup")
def app_hangup(call, arg):
    call._hangup(str2cause(arg) if arg else "NORMAL_CLEARING", from_app=True)


def _split_assign(arg):
    name, sep, val = arg.partition("=")
    return name.strip(), (val if sep else None)


@application("set")
def app_set(call, arg):
    name, val = _split_assign(arg)
    if name:
        call.set_var(name, val)


@application("export")
def app_export(call, arg):
    name, val = _split_assign(arg)
    if name.startswith("nolocal:"):
        name = name[len("nolocal:") :]
    else:
        call.set_var(name, val)
    if name:
        exp = call.vars.get("export_vars", "")
        names = [n for n in exp.split(",") if n]
        if name not in names:
            names.append(name)
        call.set_var("export_vars", ",".join(names))


@application("unset")
def app_unset(call, arg):
    call.set_var(arg.strip(), None)


@application("multiset")
def app_multiset(call, arg):
    delim = " "
    text = arg
    if text.startswith("^^") and len(text) > 3:
        delim, text = text[2], text[3:]
    for part in separate_string(text, delim, 256):
        name, val = _split_assign(part)
        if name:
            call.set_var(name, val)


@application("log")
def app_log(call, arg):
    call.switch.log.append((call.uuid, arg))


@application("info")
def app_info(call, arg):
    call.switch.log.append((call.uuid, "info"))


@application("sched_hangup")
def app_sched_hangup(call, arg):
    argv = separate_string(arg, " ", 5)
    if not argv:
        return
    call.switch.schedule_hangup(
        call, argv[0], str2cause(argv[1], "ALLOTTED_TIMEOUT") if len(argv) > 1 else "ALLOTTED_TIMEOUT"
    )


@application("park")
def app_park(call, arg):
    call.fire("CHANNEL_PARK")
    call.state = "CS_EXECUTE"
    call._park()
    call.fire("CHANNEL_UNPARK")


@application("acknowledge_call")
@application("event")
def app_noop(call, arg):
    pass
