"""API commands of the fake FreeSWITCH that act on channels and the switch itself.

status, version, show, hupall, the uuid_* commands, sched_hangup, global
variables, eval, system and echo, with FreeSWITCH's reply texts.  The
families' own commands (originate, conference, fifo) are in their modules.
"""

import json
import time

from gevent import subprocess as gsubprocess

from . import wire
from .causes import str2cause
from .expand import expand_variables, separate_string
from .private import PrivateEvent
from .registry import api_command


@api_command("status")
def api_status(switch, arg, session):
    up = time.time() - switch._started
    n = len(switch.live_calls())
    d, r = divmod(int(up), 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    ms = int((up - int(up)) * 1000)
    return (
        "UP 0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, 0 microseconds\n"
        "FreeSWITCH (Version 1.11.1-release git c2c5964 2026-05-26 20:41:26Z 64bit) is ready\n"
        "%d session(s) since startup\n"
        "%d session(s) - peak %d, last 5min %d \n"
        "0 session(s) per Sec out of max 1000, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/99.20\n"
        "Current Stack Size/Max 240K/8192K\n" % (d, h, m, s, ms, switch._sessions_since_start, n, n, n)
    )


@api_command("version")
def api_version(switch, arg, session):
    return "FreeSWITCH Version 1.11.1-release+git~c2c5964~64bit (git c2c5964 2026-05-26 20:41:26Z 64bit)\n"


@api_command("uuid_kill")
def api_uuid_kill(switch, arg, session):
    argv = (arg or "").split()
    c = switch._call(argv[0] if argv else "")
    if c is None:
        return "-ERR No such channel!\n"
    c._hangup(str2cause(argv[1]) if len(argv) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


@api_command("uuid_break")
def api_uuid_break(switch, arg, session):
    argv = (arg or "").split(" ", 1)
    c = switch._call(argv[0])
    if c is None:
        return "-ERR No such channel!\n"
    if len(argv) > 1 and "all" in argv[1]:
        del c._private[:]
    if c._broadcast:
        c._stop_broadcast = True  # switch_channel_stop_broadcast
    if c._running:
        c._break = True
    c._wake.set()
    return "+OK\n"


@api_command("uuid_setvar")
def api_uuid_setvar(switch, arg, session):
    argv = separate_string(arg or "", " ", 3)
    if not argv or not argv[0]:
        return "-USAGE: <uuid> <var> [value]\n"
    c = switch._call(argv[0])
    if c is None:
        return "-ERR No such channel!\n"
    if len(argv) < 2 or not argv[1]:
        return "-ERR No variable specified\n"
    c.set_var(argv[1], argv[2] if len(argv) > 2 else None)
    return "+OK\n"


@api_command("uuid_setvar_multi")
def api_uuid_setvar_multi(switch, arg, session):
    uuid, _, rest = (arg or "").partition(" ")
    c = switch._call(uuid)
    if c is None:
        return "-ERR No such channel!\n"
    for part in rest.split(";"):
        k, sep, v = part.partition("=")
        if k.strip():
            c.set_var(k.strip(), v if sep else None)
    return "+OK\n"


@api_command("uuid_getvar")
def api_uuid_getvar(switch, arg, session):
    argv = (arg or "").split()
    c = switch._call(argv[0] if argv else "")
    if c is None:
        return "-ERR No such channel!\n"
    if len(argv) < 2:
        return "-ERR No variable name specified!\n"
    v = c.get_var(argv[1])
    return v if v is not None else "_undef_"


@api_command("uuid_exists")
def api_uuid_exists(switch, arg, session):
    return "true" if switch._call(arg) is not None else "false"


@api_command("uuid_answer")
def api_uuid_answer(switch, arg, session):
    c = switch._call(arg)
    if c is None:
        return "-ERR No such channel!\n"
    c._mark_answered()
    return "+OK\n"


@api_command("uuid_recv_dtmf")
def api_uuid_recv_dtmf(switch, arg, session):
    uuid, _, digits = (arg or "").partition(" ")
    c = switch._call(uuid)
    if c is None:
        return "-ERR Cannot locate session!\n"
    digits = digits.strip()
    c.press(digits.split("@")[0])
    return "+OK %s received DTMF %s.\n" % (uuid, digits)


@api_command("uuid_send_dtmf")
def api_uuid_send_dtmf(switch, arg, session):
    uuid, _, digits = (arg or "").partition(" ")
    c = switch._call(uuid)
    if c is None:
        return "-ERR Cannot locate session!\n"
    digits = digits.strip()
    c.dtmf_sent.append(digits.split("@")[0])
    return "+OK %s sent DTMF %s.\n" % (uuid, digits)


@api_command("uuid_broadcast")
def api_uuid_broadcast(switch, arg, session):
    argv = (arg or "").split(" ")
    if len(argv) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    c = switch._call(argv[0])
    if c is None:
        return "-ERR invalid uuid\n"
    path = argv[1]
    if "::" in path:
        app, _, app_arg = path.partition("::")
    else:
        app, app_arg = "playback", path
    hdrs = [
        ("call-command", "execute"),
        ("execute-app-name", app),
        ("execute-app-arg", app_arg),
        ("event-lock", "true"),
        ("lead-frames", "5"),
    ]
    c._queue_private(PrivateEvent(hdrs, None, None))
    return "+OK Message sent\n"


@api_command("sched_hangup")
def api_sched_hangup(switch, arg, session):
    argv = separate_string(arg or "", " ", 4)
    if len(argv) < 2:
        return "-USAGE: [+]<time> <uuid> [<cause>]\n"
    c = switch._call(argv[1])
    if c is None:
        return "-ERR No such channel!\n"
    switch.schedule_hangup(c, argv[0], str2cause(argv[2], "ALLOTTED_TIMEOUT") if len(argv) > 2 else "ALLOTTED_TIMEOUT")
    return "+OK\n"


@api_command("hupall")
def api_hupall(switch, arg, session):
    argv = (arg or "").split()
    cause = str2cause(argv[0]) if argv else "MANAGER_REQUEST"
    for c in switch.live_calls():
        if len(argv) >= 3 and c.get_var(argv[1]) != argv[2]:
            continue
        c._hangup(cause)
    if len(argv) >= 3:
        return "+OK hangup all channels matching [%s]=[%s] with cause: %s\n" % (argv[1], argv[2], cause)
    return "+OK hangup all channels with cause %s\n" % cause


@api_command("show")
def api_show(switch, arg, session):
    words = (arg or "").lower().split()
    what = words[0] if words else ""
    if what not in ("calls", "channels"):
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
    chans = switch.live_calls()
    if what == "calls":
        chans = [c for c in chans if not (c.partner is not None and c.partner_role == "originator")]
    if "count" in words:
        return "\n%d total.\n" % len(chans)
    rows = []
    for c in chans:
        rows.append(
            {
                "uuid": c.uuid,
                "direction": c.direction,
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.created / 1e6)),
                "created_epoch": str(c.created // 1000000),
                "name": c.channel_name,
                "state": c.state,
                "cid_name": c.caller_name,
                "cid_num": c.caller,
                "ip_addr": "127.0.0.1" if c.sip else "",
                "dest": c.destination,
                "application": c.vars.get("current_application", ""),
                "application_data": c.vars.get("current_application_data", ""),
                "dialplan": "XML" if c.sip else "xml",
                "context": "default",
                "read_codec": c.vars.get("read_codec", ""),
                "read_rate": c.vars.get("read_rate", ""),
                "write_codec": c.vars.get("write_codec", ""),
                "write_rate": c.vars.get("write_rate", ""),
                "secure": "",
                "hostname": wire.HOSTNAME,
                "presence_id": "",
                "presence_data": "",
                "accountcode": "",
                "callstate": c.call_state,
                "callee_name": "",
                "callee_num": "",
                "callee_direction": "",
                "call_uuid": c.uuid,
                "sent_callee_name": "",
                "sent_callee_num": "",
                "b_uuid": c.partner.uuid if c.partner is not None else "",
            }
        )
    if "json" in words:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}) + "\n"
    if not rows:
        return "\n0 total.\n"
    keys = list(rows[0].keys())
    lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]
    return "\n".join(lines) + "\n\n%d total.\n" % len(rows)


@api_command("global_getvar")
def api_global_getvar(switch, arg, session):
    return switch.global_vars.get((arg or "").strip(), "")


@api_command("global_setvar")
def api_global_setvar(switch, arg, session):
    k, _, v = (arg or "").partition("=")
    switch.global_vars[k.strip()] = v
    return "+OK\n"


@api_command("eval")
def api_eval(switch, arg, session):
    arg = arg or ""
    if arg.startswith("uuid:"):
        uuid, _, arg = arg[5:].partition(" ")
        session = switch._call(uuid) or session
    if session is not None:
        return session.expand(arg)
    return expand_variables(arg, switch.global_vars.get, lambda c, a: switch.api(c, a))


@api_command("system")
def api_system(switch, arg, session):
    if not arg:
        return "-USAGE: <command>\n"
    try:
        p = gsubprocess.Popen(arg, shell=True, stdout=gsubprocess.PIPE, stderr=gsubprocess.DEVNULL)
        out, _ = p.communicate(timeout=30)
        return out.decode("utf-8", "replace")
    except Exception:
        return ""


@api_command("echo")
def api_echo(switch, arg, session):
    return arg or ""
