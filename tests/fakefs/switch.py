"""The fake FreeSWITCH itself: event bus, inbound ESL server, API commands.

``FakeSwitch`` owns the channels (``calls``), the inbound listener
(gevent StreamServer on 127.0.0.1, ephemeral port) and the things that are
shared between channels: originate/bridge (driven by ``originate_policy``),
conferences, FIFO queues and scheduled hangups.  ``api()`` implements the API
commands with FreeSWITCH's reply texts; it serves inbound ``api``/``bgapi``,
outbound ``api`` and ``${api ...}`` variable expansion alike.
"""
import functools
import json
import os
import time
from xml.etree import ElementTree
import uuid as _uuid

import gevent
from gevent import subprocess as gsubprocess
from gevent.server import StreamServer

from . import wire

DIALPLAN = os.path.join(os.path.dirname(__file__), '..', '..', 'freeswitch', 'dialplan', 'voxology.xml')


@functools.lru_cache(maxsize=1)
def project_dialplan():
    """(application, data) of the call server extension in our dialplan."""
    root = ElementTree.parse(DIALPLAN).getroot()
    context = next(c for c in root.iter('context') if c.get('name') == 'voxology')
    return tuple((a.get('application'), a.get('data')) for a in context.iter('action'))
from .channel import FakeCall, PrivateEvent, separate_string, str2cause, switch_true
from .listener import EslConnection


def _default_policy(dialstring, vars):
    return ('answer', 0)


def _parse_dialstring(ds):
    """'{a=b,c=d}[e=f]endpoint/x/y' -> (vars dict, 'endpoint/x/y')."""
    vars = {}
    ds = ds.strip()
    while ds and ds[0] in '{[<':
        close = {'{': '}', '[': ']', '<': '>'}[ds[0]]
        end = ds.find(close)
        if end < 0:
            break
        for part in separate_string(ds[1:end], ',', 1024):
            k, sep, v = part.partition('=')
            if sep and k.strip():
                vars[k.strip()] = v
        ds = ds[end + 1:]
    return vars, ds


class Conference:
    def __init__(self, name, profile):
        self.name = name
        self.profile = profile
        self.uuid = str(_uuid.uuid4())
        self.members = []       # dicts: id, call, muted
        self.next_id = 1


class FakeSwitch:
    """A stateful fake FreeSWITCH speaking real ESL on loopback.  See the package docstring."""

    def __init__(self, outbound=('127.0.0.1', 8084), password='ClueCon', time_scale=0.01, media_ms=20):
        self.outbound = tuple(outbound)
        self.password = password
        self.time_scale = time_scale
        self.media_ms = media_ms
        self.originate_policy = _default_policy
        self.strict_event_lock = True
        self.calls = {}
        self.api_log = []
        self.log = []
        # A list to keep every event fired (tests that inspect them set it);
        # None: events nobody subscribed to are not even built.
        self.events = None
        self.global_vars = {'hostname': wire.HOSTNAME, 'local_ip_v4': '127.0.0.1', 'domain': '127.0.0.1'}
        self.conferences = {}
        self.fifos = {}
        self.esl_port = None
        self._listeners = []
        self._server = None
        self._session_ids = iter(range(10001, 10 ** 9))
        self._sessions_since_start = 0
        self._started = time.time()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port=0):
        """Listen for inbound ESL on 127.0.0.1:port (0: an ephemeral port, see ``esl_port``)."""
        self._server = StreamServer(('127.0.0.1', port), self._handle_inbound)
        self._server.start()
        self.esl_port = self._server.server_port
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
        for l in list(self._listeners):
            l.kill()
        for call in list(self.calls.values()):
            if call._greenlet is not None:
                call._greenlet.kill(block=False)
            if call.conn is not None:
                call.conn.kill()
            call._closed.set()
        gevent.sleep(0)

    def _handle_inbound(self, sock, address):
        conn = EslConnection(self, sock)
        conn.start()
        conn.closed_evt.wait()

    def _add_listener(self, l):
        self._listeners.append(l)

    def _remove_listener(self, l):
        if l in self._listeners:
            self._listeners.remove(l)

    def _next_session_id(self):
        self._sessions_since_start += 1
        return next(self._session_ids)

    @staticmethod
    def _truthy(v):
        return switch_true(v)

    def fire(self, ev):
        """switch_event_fire: hand the event to every listener that wants it."""
        if self.events is not None:
            self.events.append(ev)
        for l in list(self._listeners):
            l.offer(ev)

    def anyone_subscribed(self, name, subclass=None):
        """Whether some listener's event list takes this event (filters aside).

        Lets a channel skip building an event that nobody would receive: a
        channel event carries every variable, and the fake is part of every
        benchmark.
        """
        return self.events is not None or any(l.subscribed(name, subclass) for l in self._listeners)

    def live_calls(self):
        return [c for c in self.calls.values() if not c.destroyed]

    # ------------------------------------------------------------------ calls
    def incoming_call(self, destination='+17145551212', caller='+19495551212', caller_name='',
                      channel_vars=None, expand_variables=False, sip=False, dialplan=True):
        """A new inbound channel routed by our dialplan to the outbound socket.

        The applications are those of the project's own
        ``freeswitch/dialplan/voxology.xml`` (``dialplan=False``: only the
        expansion switch and the socket, as a bare dialplan would do);
        ``expand_variables=True`` leaves ``app_disable_expand_variables`` out.
        """
        call = FakeCall(self, destination, caller, caller_name, channel_vars, sip=sip)
        self.calls[call.uuid] = call
        self._fire_create(call)
        socket_arg = '%s:%d async full' % self.outbound
        if dialplan:
            program = [(app, socket_arg if app == 'socket' else data) for app, data in project_dialplan()]
        else:
            program = [('set', 'app_disable_expand_variables=true'), ('socket', socket_arg)]
        if expand_variables:
            program = [step for step in program if step != ('set', 'app_disable_expand_variables=true')]
        call.start(program)
        return call

    def _fire_create(self, call, originate=False):
        if originate:
            call.fire('CHANNEL_OUTGOING')
        call.fire('CHANNEL_CREATE')
        if originate:
            call.fire('CHANNEL_ORIGINATE')
        call.state, call.state_number = 'CS_ROUTING', 2
        if not originate:
            call._set_callstate('RINGING')
        call.fire('CHANNEL_STATE')
        call.state, call.state_number = 'CS_EXECUTE', 4
        call.fire('CHANNEL_STATE')

    def _new_leg(self, dialstring, vars, uuid=None):
        """Create an outbound leg (not yet answered) for dialstring."""
        _, target = _parse_dialstring(dialstring)
        parts = target.split('/')
        if parts[0] == 'loopback' and len(parts) > 1:
            dest, name = parts[1], 'loopback/%s-a' % parts[1]
        else:
            dest, name = parts[-1].split('@')[0], target
        call = FakeCall(self, dest, vars.get('origination_caller_id_number', '0000000000'),
                        vars.get('origination_caller_id_name', 'Outbound Call'),
                        channel_vars=vars, direction='outbound', uuid=uuid, channel_name=name)
        call.caller_name = vars.get('origination_caller_id_name', 'Outbound Call')
        self.calls[call.uuid] = call
        self._fire_create(call, originate=True)
        return call

    def _dial(self, dialstring, vars, wait_for=None):
        """Apply originate_policy to one dial string.

        Returns (leg, None) for an answered leg or (None, cause)."""
        gvars, _ = _parse_dialstring(dialstring)
        allvars = dict(vars)
        allvars.update(gvars)
        outcome = self.originate_policy(dialstring, allvars) or ('answer', 0)
        kind = outcome[0]
        uuid = allvars.get('origination_uuid')
        leg = self._new_leg(dialstring, allvars, uuid=uuid)
        if kind == 'answer':
            delay = outcome[1] if len(outcome) > 1 else 0
            if delay:
                leg._mark_ring_ready()
                if wait_for is not None:
                    reason, _ = wait_for._wait(delay * self.time_scale / 1000.0, breakable=False)
                    if reason == 'hangup':
                        self._fail_leg(leg, 'ORIGINATOR_CANCEL')
                        return None, 'ORIGINATOR_CANCEL'
                else:
                    gevent.sleep(delay * self.time_scale / 1000.0)
            leg._mark_answered()
            return leg, None
        if kind == 'busy':
            cause = 'USER_BUSY'
        elif kind == 'noanswer':
            cause = 'NO_ANSWER'
            leg._mark_ring_ready()
            secs = allvars.get('leg_timeout') or allvars.get('originate_timeout') or '60'
            try:
                secs = float(secs)
            except ValueError:
                secs = 60.0
            if wait_for is not None:
                wait_for._wait(secs * self.time_scale, breakable=False)
            else:
                gevent.sleep(secs * self.time_scale)
        else:
            cause = str2cause(outcome[1] if len(outcome) > 1 else 'NORMAL_TEMPORARY_FAILURE',
                              'NORMAL_TEMPORARY_FAILURE')
        self._fail_leg(leg, cause)
        return None, cause

    def _fail_leg(self, leg, cause):
        leg._hangup(cause, from_app=True)
        leg.start([])

    def originate(self, arg):
        argv = separate_string(arg or '', ' ', 10)
        if len(argv) < 2:
            return '-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n'
        url, ext = argv[0], argv[1]
        first = url.split('|')[0]
        vars, target = _parse_dialstring(first)
        # vars before the first target apply to all
        leg, cause = self._dial(first, {})
        if leg is None:
            return '-ERR %s\n' % cause
        if ext.startswith('&'):
            app, _, rest = ext[1:].partition('(')
            args = rest[:rest.rfind(')')] if ')' in rest else rest
            program = [(app, args)]
        else:
            program = [('set', 'app_disable_expand_variables=true'),
                       ('socket', '%s:%d async full' % self.outbound)]
        leg.start(program)
        return '+OK %s\n' % leg.uuid

    # ------------------------------------------------------------------ bridge
    def bridge(self, a, arg):
        """The bridge application on channel a."""
        vars, rest = _parse_dialstring(arg)
        targets = [t for t in rest.split('|') if t.strip()] or [rest]
        cause = 'NORMAL_TEMPORARY_FAILURE'
        for t in targets:
            t = t.split(',')[0]
            tvars = dict(vars)
            legvars, _ = _parse_dialstring(t)
            tvars.update(legvars)
            _, clean = _parse_dialstring(t)
            b, cause = self._dial(clean, tvars, wait_for=a)
            if b is None:
                if a.down:
                    return
                continue
            self._bridge_legs(a, b)
            return
        a.set_var('originate_disposition', cause)
        a.set_var('DIALSTATUS', cause)
        a.set_var('originate_failed_cause', cause)
        a.set_var('last_bridge_hangup_cause', cause)
        cof = a.get_var('continue_on_fail')
        if cof is None or not (switch_true(cof) or cause in cof.split(',') or
                               str(CAUSE_CODE(cause)) in cof.split(',')):
            a._hangup(cause, from_app=True)

    def _bridge_legs(self, a, b, program_b=True):
        b.start([('echo', '')]) if program_b else None
        a.set_var('originate_disposition', 'SUCCESS')
        a.set_var('DIALSTATUS', 'SUCCESS')
        a.set_var('last_bridge_to', b.uuid)
        a.set_var('bridge_channel', b.channel_name)
        a.set_var('bridge_uuid', b.uuid)
        a.set_var('signal_bond', b.uuid)
        now = wire.now_us()
        a.times['bridged'] = b.times['bridged'] = now
        a.partner, a.partner_role = b, 'originatee'
        b.partner, b.partner_role = a, 'originator'
        a.fire('CHANNEL_BRIDGE', pre=[('Bridge-A-Unique-ID', a.uuid), ('Bridge-B-Unique-ID', b.uuid)])
        while not a.down and not b.down:
            a._wake.clear()
            a._wake.wait()
        if b.down:
            a.set_var('last_bridge_hangup_cause', b.hangup_cause)
            a.set_var('bridge_hangup_cause', b.hangup_cause)
        else:
            b._hangup('NORMAL_CLEARING', from_app=False)
        a.fire('CHANNEL_UNBRIDGE', pre=[('Bridge-A-Unique-ID', a.uuid), ('Bridge-B-Unique-ID', b.uuid)])
        a.partner = b.partner = None
        if not a.down and switch_true(a.get_var('hangup_after_bridge')):
            a._hangup(b.hangup_cause or 'NORMAL_CLEARING', from_app=True)

    # ------------------------------------------------------------------ conference
    def _conf_event(self, conf, action, member=None, extra=()):
        names = {'add-member': ('conference_member.c', 'conference_member_add', 962),
                 'del-member': ('conference_member.c', 'conference_member_del', 1355),
                 'kick-member': ('conference_api.c', 'conference_api_sub_kick', 902),
                 'mute-member': ('conference_api.c', 'conference_api_sub_mute', 339),
                 'unmute-member': ('conference_api.c', 'conference_api_sub_unmute', 389),
                 'conference-create': ('mod_conference.c', 'conference_new', 3848),
                 'conference-destroy': ('mod_conference.c', 'conference_thread_run', 863)}
        ev = wire.Event('CUSTOM', subclass='conference::maintenance', calling=names.get(action))
        ev.add('Conference-Name', conf.name)
        ev.add('Conference-Domain', '127.0.0.1')
        ev.add('Conference-Size', len(conf.members))
        ev.add('Conference-Ghosts', 0)
        ev.add('Conference-Profile-Name', conf.profile)
        ev.add('Conference-Unique-ID', conf.uuid)
        if member is not None:
            ev.add('Floor', 'true' if conf.members and conf.members[0] is member else 'false')
            member['call']._channel_data(ev)
            for k, v in (('Video', 'false'), ('Hear', 'true'), ('See', 'true'),
                         ('Speak', 'false' if member['muted'] else 'true'), ('Talking', 'false'),
                         ('Mute-Detect', 'false'), ('Hold', 'false'), ('Member-ID', member['id']),
                         ('Member-Type', 'member'), ('Member-Ghost', 'false'), ('Energy-Level', 100),
                         ('Current-Energy', 0)):
                ev.add(k, v)
        for k, v in extra:
            ev.add(k, v)
        ev.add('Action', action)
        self.fire(ev)

    def conference_join(self, call, arg):
        name, _, profile = arg.strip().partition('@')
        profile = (profile or 'default').split('+')[0]
        name = name.split('+')[0]
        conf = self.conferences.get(name)
        if conf is None:
            conf = self.conferences[name] = Conference(name, profile)
            self._conf_event(conf, 'conference-create')
        member = {'id': conf.next_id, 'call': call, 'muted': False}
        conf.next_id += 1
        conf.members.append(member)
        call.set_var('conference_name', name)
        call.set_var('conference_member_id', member['id'])
        call.set_var('conference_uuid', conf.uuid)
        call.set_var('conference_moderator', 'false')
        self._conf_event(conf, 'add-member', member)
        call._kicked = False
        try:
            call._wait(None, breakable=False)
        finally:
            call._kicked = False
            if member in conf.members:
                conf.members.remove(member)
            self._conf_event(conf, 'del-member', member)
            if not conf.members:
                self._conf_event(conf, 'conference-destroy')
                self.conferences.pop(name, None)

    def _conference_api(self, arg):
        argv = (arg or '').split()
        if len(argv) < 2:
            return '-ERR Conference command requires a conference name and a command\n'
        name, sub = argv[0], argv[1].lower()
        conf = self.conferences.get(name)
        if conf is None:
            return '-ERR Conference %s not found\n' % name
        members = list(reversed(conf.members))
        if len(argv) > 2 and argv[2] not in ('all', 'last'):
            members = [m for m in members if str(m['id']) == argv[2]]
        elif len(argv) > 2 and argv[2] == 'last':
            members = members[:1]
        if sub == 'list':
            lines = []
            for m in reversed(conf.members):
                c = m['call']
                flags = 'hear' if m['muted'] else 'hear|speak'
                if conf.members[0] is m:
                    flags += '|floor'
                lines.append('%d;%s;%s;%s;%s;%s;0;0;100\n' % (m['id'], c.channel_name, c.uuid,
                                                                c.caller_name, c.caller, flags))
            return ''.join(lines)
        if sub in ('kick', 'hup'):
            out = []
            for m in members:
                self._conf_event(conf, 'kick-member', m)
                m['call']._kicked = True
                m['call']._wake.set()
                out.append('+OK kicked %d\n' % m['id'])
            return ''.join(out) or '-ERR Non-Existant ID %s\n' % (argv[2] if len(argv) > 2 else '')
        if sub in ('mute', 'unmute'):
            out = []
            for m in members:
                m['muted'] = sub == 'mute'
                self._conf_event(conf, sub + '-member', m)
                out.append('+OK %s %d\n' % (sub, m['id']))
            return ''.join(out)
        if sub == 'count':
            return '%d\n' % len(conf.members)
        return '-ERR Unknown conference command %s\n' % sub

    # ------------------------------------------------------------------ fifo
    def _fifo_event(self, call, name, action, extra=()):
        ev = wire.Event('CUSTOM', subclass='fifo::info')
        call._channel_data(ev)
        ev.add('FIFO-Name', name)
        ev.add('FIFO-Action', action)
        for k, v in extra:
            ev.add(k, v)
        self.fire(ev)

    def fifo_app(self, call, arg):
        argv = separate_string(arg, ' ', 6)
        if not argv:
            return
        name = argv[0]
        direction = argv[1].lower() if len(argv) > 1 else 'in'
        queue = self.fifos.setdefault(name, [])
        if direction == 'in':
            stamp = time.strftime('%Y-%m-%d %H:%M:%S')
            call.set_var('fifo_position', len(queue) + 1)
            call.set_var('fifo_priority', 0)
            call.set_var('fifo_status', 'WAITING')
            call.set_var('fifo_timestamp', stamp)
            call.set_var('fifo_push_timestamp', stamp)
            entry = {'call': call, 'taken_by': None, 'ts': stamp}
            queue.append(entry)
            self._fifo_event(call, name, 'push', [('FIFO-Slot', 0)])
            call._kicked = False
            try:
                call._wait(None, breakable=False)
            finally:
                call._kicked = False
                if entry in queue:
                    queue.remove(entry)
            if entry['taken_by'] is not None:
                cons = entry['taken_by']
                call.set_var('fifo_serviced_by', cons.uuid)
                call.set_var('fifo_serviced_uuid', cons.uuid)
                call._released = True
                call._wake.set()
            return
        # consumer
        nowait = 'nowait' in [a.lower() for a in argv[2:]]
        self._fifo_event(call, name, 'consumer_start')
        while True:
            waiting = [e for e in queue if e['taken_by'] is None and not e['call'].down]
            if waiting or nowait or call.down:
                break
            call._wait(0.02, breakable=False)
        if waiting and not call.down:
            entry = waiting[0]
            caller = entry['call']
            entry['taken_by'] = call
            queue.remove(entry)
            self._fifo_event(caller, name, 'caller_pop')
            self._fifo_event(call, name, 'consumer_pop', [('FIFO-Caller-UUID', caller.uuid)])
            caller._kicked = True
            caller._wake.set()
            gevent.sleep(0)
            self._fifo_event(call, name, 'bridge-consumer-start')
            self._fifo_event(caller, name, 'bridge-caller-start')
            call.partner, call.partner_role = caller, 'originatee'
            caller.partner, caller.partner_role = call, 'originator'
            call.fire('CHANNEL_BRIDGE', pre=[('Bridge-A-Unique-ID', call.uuid), ('Bridge-B-Unique-ID', caller.uuid)])
            while not call.down and not caller.down:
                call._wake.clear()
                call._wake.wait()
            if call.down and not caller.down:
                caller._hangup('NORMAL_CLEARING')
            call.fire('CHANNEL_UNBRIDGE', pre=[('Bridge-A-Unique-ID', call.uuid), ('Bridge-B-Unique-ID', caller.uuid)])
            self._fifo_event(call, name, 'bridge-consumer-stop')
            self._fifo_event(caller, name, 'bridge-caller-stop')
            call.partner = caller.partner = None
        self._fifo_event(call, name, 'consumer_stop')

    def _fifo_api(self, arg):
        argv = (arg or '').split()
        sub = argv[0].lower() if argv else ''
        if sub == 'count':
            names = [argv[1]] if len(argv) > 1 else sorted(self.fifos)
            return ''.join('%s:0:%d:0:0:0\n' % (n, len(self.fifos.get(n, []))) for n in names)
        if sub in ('list', 'list_verbose'):
            names = [argv[1]] if len(argv) > 1 else sorted(self.fifos)
            out = ['<fifo_report>\n']
            for n in names:
                q = self.fifos.get(n, [])
                out.append('  <fifo name="%s" consumer_count="0" caller_count="%d" waiting_count="%d" '
                           'importance="0" outbound_per_cycle="1" outbound_per_cycle_min="1" '
                           'ring_timeout="60" default_lag="30" outbound_strategy="ringall">\n'
                           % (n, len(q), len(q)))
                out.append('    <outbound></outbound>\n    <callers>\n')
                for i, e in enumerate(q):
                    c = e['call']
                    out.append('      <caller uuid="%s" status="WAITING" caller_id_name="%s" '
                               'caller_id_number="%s" timestamp="%s" slot="0" position="%d" '
                               'priority="0"></caller>\n'
                               % (c.uuid, c.caller_name, c.caller, e['ts'], i + 1))
                out.append('    </callers>\n    <consumers></consumers>\n    <bridges></bridges>\n  </fifo>\n')
            out.append('</fifo_report>\n')
            return ''.join(out)
        return '-ERR Usage: fifo list|list_verbose|count|debug|status|has_outbound|importance [<fifo name>]|reparse [del_all]\n'

    # ------------------------------------------------------------------ scheduling
    def schedule_hangup(self, call, when, cause):
        try:
            secs = int(when[1:]) if when.startswith('+') else int(when) - int(time.time())
        except ValueError:
            secs = 0
        if secs <= 0:
            call._hangup(cause)
        else:
            gevent.spawn_later(secs * self.time_scale, call._hangup, cause)

    # ------------------------------------------------------------------ sendevent
    def sendevent(self, msg):
        ev_uuid = str(_uuid.uuid4())
        name = msg.command[9:].strip() or 'CUSTOM'
        ename = name.upper() if name.upper() in wire.EVENT_NAMES else name
        subclass = msg.get('Event-Subclass') if ename == 'CUSTOM' else None
        ev = wire.Event(ename, subclass=subclass, standard=False)
        ev.add('Command', msg.command)
        for k, v in msg.headers:
            if subclass and k.lower() == 'event-subclass':
                continue
            ev.add(k, v)
        ev.add('Event-UUID', ev_uuid)
        ev.add_standard(wire.CALLING['CUSTOM'])
        ev.body = msg.body
        target = msg.get('Unique-ID')
        if target and target in self.calls and not self.calls[target].destroyed:
            # switch_core_session_queue_event: the session gets it, it is not fired
            self.calls[target].session_events.append(ev)
        else:
            self.fire(ev)
        return '+OK %s' % ev_uuid

    # ------------------------------------------------------------------ api
    def bgapi(self, cmd, arg, job_uuid, owner=None):
        out = self.api(cmd, arg)
        ev = wire.Event('BACKGROUND_JOB')
        ev.add('Job-UUID', job_uuid)
        ev.add('Job-Owner-UUID', owner)
        ev.add('Job-Command', cmd)
        ev.add('Job-Command-Arg', arg)
        ev.body = out or 'Command returned no output!'
        self.fire(ev)

    def api(self, cmd, arg=None, listener=None, session=None):
        """Run an API command; returns the text FreeSWITCH would stream back."""
        cmd = (cmd or '').strip()
        self.api_log.append(cmd + (' ' + arg if arg else ''))
        handler = getattr(self, '_api_' + cmd.lower(), None)
        if handler is None or not cmd:
            out = '-ERR %s Command not found!\n' % cmd
        else:
            out = handler(arg, session)
        ev = wire.Event('API')
        ev.add('API-Command', cmd)
        ev.add('API-Command-Argument', arg)
        self.fire(ev)
        return out

    def _call(self, uuid):
        c = self.calls.get((uuid or '').strip())
        return c if c is not None and not c.destroyed else None

    def _api_status(self, arg, session):
        up = time.time() - self._started
        n = len(self.live_calls())
        d, r = divmod(int(up), 86400)
        h, r = divmod(r, 3600)
        m, s = divmod(r, 60)
        ms = int((up - int(up)) * 1000)
        return ('UP 0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, 0 microseconds\n'
                'FreeSWITCH (Version 1.11.1-release git c2c5964 2026-05-26 20:41:26Z 64bit) is ready\n'
                '%d session(s) since startup\n'
                '%d session(s) - peak %d, last 5min %d \n'
                '0 session(s) per Sec out of max 1000, peak 0, last 5min 0 \n'
                '1000 session(s) max\n'
                'min idle cpu 0.00/99.20\n'
                'Current Stack Size/Max 240K/8192K\n'
                % (d, h, m, s, ms, self._sessions_since_start, n, n, n))

    def _api_version(self, arg, session):
        return 'FreeSWITCH Version 1.11.1-release+git~c2c5964~64bit (git c2c5964 2026-05-26 20:41:26Z 64bit)\n'

    def _api_originate(self, arg, session):
        return self.originate(arg)

    def _api_uuid_kill(self, arg, session):
        argv = (arg or '').split()
        c = self._call(argv[0] if argv else '')
        if c is None:
            return '-ERR No such channel!\n'
        c._hangup(str2cause(argv[1]) if len(argv) > 1 else 'NORMAL_CLEARING')
        return '+OK\n'

    def _api_uuid_break(self, arg, session):
        argv = (arg or '').split(' ', 1)
        c = self._call(argv[0])
        if c is None:
            return '-ERR No such channel!\n'
        if len(argv) > 1 and 'all' in argv[1]:
            del c._private[:]
        if c._running:
            c._break = True
        c._wake.set()
        return '+OK\n'

    def _api_uuid_setvar(self, arg, session):
        argv = separate_string(arg or '', ' ', 3)
        if not argv or not argv[0]:
            return '-USAGE: <uuid> <var> [value]\n'
        c = self._call(argv[0])
        if c is None:
            return '-ERR No such channel!\n'
        if len(argv) < 2 or not argv[1]:
            return '-ERR No variable specified\n'
        c.set_var(argv[1], argv[2] if len(argv) > 2 else None)
        return '+OK\n'

    def _api_uuid_setvar_multi(self, arg, session):
        uuid, _, rest = (arg or '').partition(' ')
        c = self._call(uuid)
        if c is None:
            return '-ERR No such channel!\n'
        for part in rest.split(';'):
            k, sep, v = part.partition('=')
            if k.strip():
                c.set_var(k.strip(), v if sep else None)
        return '+OK\n'

    def _api_uuid_getvar(self, arg, session):
        argv = (arg or '').split()
        c = self._call(argv[0] if argv else '')
        if c is None:
            return '-ERR No such channel!\n'
        if len(argv) < 2:
            return '-ERR No variable name specified!\n'
        v = c.get_var(argv[1])
        return v if v is not None else '_undef_'

    def _api_uuid_exists(self, arg, session):
        return 'true' if self._call(arg) is not None else 'false'

    def _api_uuid_answer(self, arg, session):
        c = self._call(arg)
        if c is None:
            return '-ERR No such channel!\n'
        c._mark_answered()
        return '+OK\n'

    def _api_uuid_recv_dtmf(self, arg, session):
        uuid, _, digits = (arg or '').partition(' ')
        c = self._call(uuid)
        if c is None:
            return '-ERR Cannot locate session!\n'
        digits = digits.strip()
        c.press(digits.split('@')[0])
        return '+OK %s received DTMF %s.\n' % (uuid, digits)

    def _api_uuid_send_dtmf(self, arg, session):
        uuid, _, digits = (arg or '').partition(' ')
        c = self._call(uuid)
        if c is None:
            return '-ERR Cannot locate session!\n'
        digits = digits.strip()
        c.dtmf_sent.append(digits.split('@')[0])
        return '+OK %s sent DTMF %s.\n' % (uuid, digits)

    def _api_uuid_broadcast(self, arg, session):
        argv = (arg or '').split(' ')
        if len(argv) < 2:
            return '-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n'
        c = self._call(argv[0])
        if c is None:
            return '-ERR invalid uuid\n'
        path = argv[1]
        if '::' in path:
            app, _, app_arg = path.partition('::')
        else:
            app, app_arg = 'playback', path
        hdrs = [('call-command', 'execute'), ('execute-app-name', app), ('execute-app-arg', app_arg),
                ('event-lock', 'true'), ('lead-frames', '5')]
        c._queue_private(PrivateEvent(hdrs, None, None))
        return '+OK Message sent\n'

    def _api_sched_hangup(self, arg, session):
        argv = separate_string(arg or '', ' ', 4)
        if len(argv) < 2:
            return '-USAGE: [+]<time> <uuid> [<cause>]\n'
        c = self._call(argv[1])
        if c is None:
            return '-ERR No such channel!\n'
        self.schedule_hangup(c, argv[0], str2cause(argv[2], 'ALLOTTED_TIMEOUT') if len(argv) > 2 else 'ALLOTTED_TIMEOUT')
        return '+OK\n'

    def _api_hupall(self, arg, session):
        argv = (arg or '').split()
        cause = str2cause(argv[0]) if argv else 'MANAGER_REQUEST'
        for c in self.live_calls():
            if len(argv) >= 3 and c.get_var(argv[1]) != argv[2]:
                continue
            c._hangup(cause)
        if len(argv) >= 3:
            return '+OK hangup all channels matching [%s]=[%s] with cause: %s\n' % (argv[1], argv[2], cause)
        return '+OK hangup all channels with cause %s\n' % cause

    def _api_show(self, arg, session):
        words = (arg or '').lower().split()
        what = words[0] if words else ''
        if what not in ('calls', 'channels'):
            return '-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n'
        chans = self.live_calls()
        if what == 'calls':
            chans = [c for c in chans if not (c.partner is not None and c.partner_role == 'originator')]
        if 'count' in words:
            return '\n%d total.\n' % len(chans)
        rows = []
        for c in chans:
            rows.append({
                'uuid': c.uuid, 'direction': c.direction,
                'created': time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(c.created / 1e6)),
                'created_epoch': str(c.created // 1000000), 'name': c.channel_name, 'state': c.state,
                'cid_name': c.caller_name, 'cid_num': c.caller, 'ip_addr': '127.0.0.1' if c.sip else '',
                'dest': c.destination, 'application': c.vars.get('current_application', ''),
                'application_data': c.vars.get('current_application_data', ''), 'dialplan': 'XML' if c.sip else 'xml',
                'context': 'default', 'read_codec': c.vars.get('read_codec', ''),
                'read_rate': c.vars.get('read_rate', ''), 'write_codec': c.vars.get('write_codec', ''),
                'write_rate': c.vars.get('write_rate', ''), 'secure': '', 'hostname': wire.HOSTNAME,
                'presence_id': '', 'presence_data': '', 'accountcode': '', 'callstate': c.call_state,
                'callee_name': '', 'callee_num': '', 'callee_direction': '', 'call_uuid': c.uuid,
                'sent_callee_name': '', 'sent_callee_num': '',
                'b_uuid': c.partner.uuid if c.partner is not None else '',
            })
        if 'json' in words:
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({'row_count': len(rows), 'rows': rows}) + '\n'
        if not rows:
            return '\n0 total.\n'
        keys = list(rows[0].keys())
        lines = [','.join(keys)] + [','.join(str(r[k]) for k in keys) for r in rows]
        return '\n'.join(lines) + '\n\n%d total.\n' % len(rows)

    def _api_conference(self, arg, session):
        return self._conference_api(arg)

    def _api_fifo(self, arg, session):
        return self._fifo_api(arg)

    def _api_global_getvar(self, arg, session):
        return self.global_vars.get((arg or '').strip(), '')

    def _api_global_setvar(self, arg, session):
        k, _, v = (arg or '').partition('=')
        self.global_vars[k.strip()] = v
        return '+OK\n'

    def _api_eval(self, arg, session):
        arg = arg or ''
        if arg.startswith('uuid:'):
            uuid, _, arg = arg[5:].partition(' ')
            session = self._call(uuid) or session
        if session is not None:
            return session.expand(arg)
        from .expand import expand_variables
        return expand_variables(arg, self.global_vars.get, lambda c, a: self.api(c, a))

    def _api_system(self, arg, session):
        if not arg:
            return '-USAGE: <command>\n'
        try:
            p = gsubprocess.Popen(arg, shell=True, stdout=gsubprocess.PIPE, stderr=gsubprocess.DEVNULL)
            out, _ = p.communicate(timeout=30)
            return out.decode('utf-8', 'replace')
        except Exception:
            return ''

    def _api_echo(self, arg, session):
        return arg or ''

    # ------------------------------------------------------------------ uuid_bridge / room end
    def _api_uuid_bridge(self, arg, session):
        argv = (arg or '').split()
        if len(argv) < 2:
            return '-USAGE: <uuid> <other_uuid>\n'
        a, b = self._call(argv[0]), self._call(argv[1])
        if a is None or b is None:
            return '-ERR Invalid uuid\n'
        gevent.spawn(self._uuid_bridged, a, b)
        return '+OK %s\n' % b.uuid

    def _uuid_bridged(self, a, b):
        """switch_ivr_uuid_bridge: both leave what they run, then talk until one hangs up."""
        for c in (a, b):
            if c._running:
                c._break = True
            c._wake.set()
        gevent.sleep(0.001)     # their applications complete before the bridge
        if a.down or b.down:
            return
        a.partner, a.partner_role = b, 'originatee'
        b.partner, b.partner_role = a, 'originator'
        a.times['bridged'] = b.times['bridged'] = wire.now_us()
        legs = [('Bridge-A-Unique-ID', a.uuid), ('Bridge-B-Unique-ID', b.uuid)]
        a.fire('CHANNEL_BRIDGE', pre=legs)
        gevent.wait([a.hangup_evt, b.hangup_evt], count=1)
        if a.down and not b.down:
            b._hangup('NORMAL_CLEARING')
        elif b.down and not a.down and not switch_true(a.get_var('park_after_bridge')):
            a._hangup(b.hangup_cause or 'NORMAL_CLEARING')
        a.fire('CHANNEL_UNBRIDGE', pre=legs)
        a.partner = b.partner = None

    def end_conference(self, name):
        """The room ends (as when its endconf member leaves): every member leaves it, none kicked."""
        conf = self.conferences.pop(name, None)
        if conf is None:
            return False
        self._conf_event(conf, 'conference-destroy')
        for m in list(conf.members):
            m['call']._kicked = True
            m['call']._wake.set()
        return True


def CAUSE_CODE(cause):
    from .channel import CAUSES
    return CAUSES.get(cause, 0)
