"""mod_fifo in the fake FreeSWITCH: the fifo application (callers in, consumers out) and API command.

Queues live in ``switch.fifos`` (name -> waiting entries); a consumer takes
the first waiting caller and is bridged to it, with fifo::info events.
"""

import time

import gevent

from . import wire
from .bridge import bridge_ids, join_legs
from .expand import separate_string
from .registry import api_command, application, switch_state

switch_state("fifos", dict)


def _fifo_event(switch, call, name, action, extra=()):
    ev = wire.Event("CUSTOM", subclass="fifo::info")
    call._channel_data(ev)
    ev.add("FIFO-Name", name)
    ev.add("FIFO-Action", action)
    for k, v in extra:
        ev.add(k, v)
    switch.fire(ev)


@application("fifo", media=True)
def app_fifo(call, arg):
    switch = call.switch
    argv = separate_string(arg, " ", 6)
    if not argv:
        return
    name = argv[0]
    direction = argv[1].lower() if len(argv) > 1 else "in"
    queue = switch.fifos.setdefault(name, [])
    if direction == "in":
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        call.set_var("fifo_position", len(queue) + 1)
        call.set_var("fifo_priority", 0)
        call.set_var("fifo_status", "WAITING")
        call.set_var("fifo_timestamp", stamp)
        call.set_var("fifo_push_timestamp", stamp)
        entry = {"call": call, "taken_by": None, "ts": stamp}
        queue.append(entry)
        _fifo_event(switch, call, name, "push", [("FIFO-Slot", 0)])
        try:
            call._wait_kicked()
        finally:
            if entry in queue:
                queue.remove(entry)
        if entry["taken_by"] is not None:
            cons = entry["taken_by"]
            call.set_var("fifo_serviced_by", cons.uuid)
            call.set_var("fifo_serviced_uuid", cons.uuid)
            call._released = True
            call._wake.set()
        return
    # consumer
    nowait = "nowait" in [a.lower() for a in argv[2:]]
    _fifo_event(switch, call, name, "consumer_start")
    while True:
        waiting = [e for e in queue if e["taken_by"] is None and not e["call"].down]
        if waiting or nowait or call.down:
            break
        call._wait(0.02, breakable=False)
    if waiting and not call.down:
        entry = waiting[0]
        caller = entry["call"]
        entry["taken_by"] = call
        queue.remove(entry)
        _fifo_event(switch, caller, name, "caller_pop")
        _fifo_event(switch, call, name, "consumer_pop", [("FIFO-Caller-UUID", caller.uuid)])
        caller._kicked = True
        caller._wake.set()
        gevent.sleep(0)
        _fifo_event(switch, call, name, "bridge-consumer-start")
        _fifo_event(switch, caller, name, "bridge-caller-start")
        join_legs(call, caller)
        if call.down and not caller.down:
            caller._hangup("NORMAL_CLEARING")
        call.fire("CHANNEL_UNBRIDGE", pre=bridge_ids(call, caller))
        _fifo_event(switch, call, name, "bridge-consumer-stop")
        _fifo_event(switch, caller, name, "bridge-caller-stop")
        call.partner = caller.partner = None
    _fifo_event(switch, call, name, "consumer_stop")


@api_command("fifo")
def api_fifo(switch, arg, session):
    argv = (arg or "").split()
    sub = argv[0].lower() if argv else ""
    if sub == "count":
        names = [argv[1]] if len(argv) > 1 else sorted(switch.fifos)
        return "".join("%s:0:%d:0:0:0\n" % (n, len(switch.fifos.get(n, []))) for n in names)
    if sub in ("list", "list_verbose"):
        names = [argv[1]] if len(argv) > 1 else sorted(switch.fifos)
        out = ["<fifo_report>\n"]
        for n in names:
            q = switch.fifos.get(n, [])
            out.append(
                '  <fifo name="%s" consumer_count="0" caller_count="%d" waiting_count="%d" '
                'importance="0" outbound_per_cycle="1" outbound_per_cycle_min="1" '
                'ring_timeout="60" default_lag="30" outbound_strategy="ringall">\n' % (n, len(q), len(q))
            )
            out.append("    <outbound></outbound>\n    <callers>\n")
            for i, e in enumerate(q):
                c = e["call"]
                out.append(
                    '      <caller uuid="%s" status="WAITING" caller_id_name="%s" '
                    'caller_id_number="%s" timestamp="%s" slot="0" position="%d" '
                    'priority="0"></caller>\n' % (c.uuid, c.caller_name, c.caller, e["ts"], i + 1)
                )
            out.append("    </callers>\n    <consumers></consumers>\n    <bridges></bridges>\n  </fifo>\n")
        out.append("</fifo_report>\n")
        return "".join(out)
    return "-ERR Usage: fifo list|list_verbose|count|debug|status|has_outbound|importance [<fifo name>]|reparse [del_all]\n"
