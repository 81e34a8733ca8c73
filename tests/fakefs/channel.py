"""Channel and dialplan-application emulation of the fake FreeSWITCH.

A ``FakeCall`` is one FreeSWITCH channel (session).  Its own greenlet runs a
tiny "dialplan" (for an incoming call: ``set app_disable_expand_variables=true``
then ``socket 127.0.0.1:PORT async full``), exactly the way
switch_core_session_exec does it: CHANNEL_EXECUTE, the application, then
CHANNEL_EXECUTE_COMPLETE with Application-Response taken from
``current_application_response``.

The ``socket`` application connects to the outbound server, answers
``connect`` with CHANNEL_DATA, fires CHANNEL_PARK and parks.  While parked,
``sendmsg`` commands (private events) are parsed one by one
(switch_ivr_parse_event: ``execute`` with ``loops``/``Event-UUID``/
``event-lock``, ``hangup``).  As in FreeSWITCH every media/wait loop also
parses queued private events, so a ``sendmsg`` that arrives while an
application runs is executed *nested* inside it unless a running application
was started with ``event-lock: true`` (set ``FakeSwitch.strict_event_lock =
False`` to get a plain FIFO instead).

Media timing: each played file lasts ``media_ms`` real milliseconds; sleeps
and (digit) timeouts last their value x ``time_scale``.  DTMF from the caller
is queued on the channel; a DTMF event is fired when a reader dequeues a key
(switch_channel_dequeue_dtmf), keys nobody reads stay queued.
"""
import os
import re
import struct
import time
import uuid as _uuid

import gevent
from gevent import socket as gsocket
from gevent.event import Event as GEvent

from . import wire
from .expand import expand_variables, separate_string

CAUSES = {
    'NONE': 0, 'UNALLOCATED_NUMBER': 1, 'NO_ROUTE_TRANSIT_NET': 2, 'NO_ROUTE_DESTINATION': 3,
    'CHANNEL_UNACCEPTABLE': 6, 'CALL_AWARDED_DELIVERED': 7, 'NORMAL_CLEARING': 16, 'USER_BUSY': 17,
    'NO_USER_RESPONSE': 18, 'NO_ANSWER': 19, 'SUBSCRIBER_ABSENT': 20, 'CALL_REJECTED': 21,
    'NUMBER_CHANGED': 22, 'REDIRECTION_TO_NEW_DESTINATION': 23, 'EXCHANGE_ROUTING_ERROR': 25,
    'DESTINATION_OUT_OF_ORDER': 27, 'INVALID_NUMBER_FORMAT': 28, 'FACILITY_REJECTED': 29,
    'RESPONSE_TO_STATUS_ENQUIRY': 30, 'NORMAL_UNSPECIFIED': 31, 'NORMAL_CIRCUIT_CONGESTION': 34,
    'NETWORK_OUT_OF_ORDER': 38, 'NORMAL_TEMPORARY_FAILURE': 41, 'SWITCH_CONGESTION': 42,
    'ACCESS_INFO_DISCARDED': 43, 'REQUESTED_CHAN_UNAVAIL': 44, 'PRE_EMPTED': 45,
    'FACILITY_NOT_SUBSCRIBED': 50, 'OUTGOING_CALL_BARRED': 52, 'INCOMING_CALL_BARRED': 54,
    'BEARERCAPABILITY_NOTAUTH': 57, 'BEARERCAPABILITY_NOTAVAIL': 58, 'SERVICE_UNAVAILABLE': 63,
    'BEARERCAPABILITY_NOTIMPL': 65, 'CHAN_NOT_IMPLEMENTED': 66, 'FACILITY_NOT_IMPLEMENTED': 69,
    'SERVICE_NOT_IMPLEMENTED': 79, 'INVALID_CALL_REFERENCE': 81, 'INCOMPATIBLE_DESTINATION': 88,
    'INVALID_MSG_UNSPECIFIED': 95, 'MANDATORY_IE_MISSING': 96, 'MESSAGE_TYPE_NONEXIST': 97,
    'WRONG_MESSAGE': 98, 'IE_NONEXIST': 99, 'INVALID_IE_CONTENTS': 100, 'WRONG_CALL_STATE': 101,
    'RECOVERY_ON_TIMER_EXPIRE': 102, 'MANDATORY_IE_LENGTH_ERROR': 103, 'PROTOCOL_ERROR': 111,
    'INTERWORKING': 127, 'SUCCESS': 142, 'ORIGINATOR_CANCEL': 487, 'CRASH': 700,
    'SYSTEM_SHUTDOWN': 701, 'LOSE_RACE': 702, 'MANAGER_REQUEST': 703, 'BLIND_TRANSFER': 800,
    'ATTENDED_TRANSFER': 801, 'ALLOTTED_TIMEOUT': 802, 'USER_CHALLENGE': 803, 'MEDIA_TIMEOUT': 804,
    'PICKED_OFF': 805, 'USER_NOT_REGISTERED': 806, 'PROGRESS_TIMEOUT': 807, 'INVALID_GATEWAY': 808,
    'GATEWAY_DOWN': 809, 'INVALID_URL': 810, 'INVALID_PROFILE': 811, 'NO_PICKUP': 812,
    'SRTP_READ_ERROR': 813, 'BOWOUT': 814, 'BUSY_EVERYWHERE': 815, 'DECLINE': 816,
    'DOES_NOT_EXIST_ANYWHERE': 817, 'NOT_ACCEPTABLE': 818, 'UNWANTED': 819,
}
_CAUSE_BY_CODE = {v: k for k, v in CAUSES.items()}

# sofia_glue_sip_cause_to_freeswitch
SIP_CAUSES = {
    200: 'NORMAL_CLEARING', 401: 'CALL_REJECTED', 402: 'CALL_REJECTED', 403: 'CALL_REJECTED',
    407: 'CALL_REJECTED', 603: 'CALL_REJECTED', 608: 'CALL_REJECTED', 607: 'UNWANTED',
    404: 'UNALLOCATED_NUMBER', 485: 'NO_ROUTE_DESTINATION', 604: 'NO_ROUTE_DESTINATION',
    408: 'RECOVERY_ON_TIMER_EXPIRE', 504: 'RECOVERY_ON_TIMER_EXPIRE', 410: 'NUMBER_CHANGED',
    480: 'NO_USER_RESPONSE', 400: 'NORMAL_TEMPORARY_FAILURE', 481: 'NORMAL_TEMPORARY_FAILURE',
    500: 'NORMAL_TEMPORARY_FAILURE', 503: 'NORMAL_TEMPORARY_FAILURE', 486: 'USER_BUSY',
    600: 'USER_BUSY', 484: 'INVALID_NUMBER_FORMAT', 488: 'INCOMPATIBLE_DESTINATION',
    606: 'INCOMPATIBLE_DESTINATION', 502: 'NETWORK_OUT_OF_ORDER', 405: 'SERVICE_UNAVAILABLE',
    406: 'SERVICE_NOT_IMPLEMENTED', 415: 'SERVICE_NOT_IMPLEMENTED', 501: 'SERVICE_NOT_IMPLEMENTED',
    482: 'EXCHANGE_ROUTING_ERROR', 483: 'EXCHANGE_ROUTING_ERROR', 487: 'ORIGINATOR_CANCEL',
}
for _c in (413, 414, 416, 420, 421, 423, 505, 513):
    SIP_CAUSES[_c] = 'INTERWORKING'

STATE_NUMBERS = {'CS_NEW': 0, 'CS_INIT': 1, 'CS_ROUTING': 2, 'CS_SOFT_EXECUTE': 3, 'CS_EXECUTE': 4,
                 'CS_EXCHANGE_MEDIA': 5, 'CS_PARK': 6, 'CS_CONSUME_MEDIA': 7, 'CS_HIBERNATE': 8,
                 'CS_RESET': 9, 'CS_HANGUP': 10, 'CS_REPORTING': 11, 'CS_DESTROY': 12}

# applications that need media (no SAF_SUPPORT_NOMEDIA): an unanswered inbound
# channel is pre-answered before they run (switch_core_session_execute_application)
MEDIA_APPS = {'playback', 'speak', 'play_and_get_digits', 'record', 'record_session', 'send_dtmf',
              'conference', 'fifo', 'read', 'say', 'gentones', 'echo'}

WAV_HEADER = (b'RIFF' + struct.pack('<I', 36) + b'WAVEfmt ' +
              struct.pack('<IHHIIHH', 16, 1, 1, 8000, 16000, 2, 16) + b'data' + struct.pack('<I', 0))


def str2cause(name, default='NORMAL_CLEARING'):
    """switch_channel_str2cause: a name (case-insensitive) or a number."""
    if name is None or not str(name).strip():
        return default
    name = str(name).strip()
    if name.isdigit():
        return _CAUSE_BY_CODE.get(int(name), default)
    up = name.upper()
    return up if up in CAUSES else 'NONE'


def q850(cause):
    code = CAUSES.get(cause, 16)
    return code if code <= 127 else 16


def switch_true(v):
    return str(v).lower() in ('yes', 'on', 'true', 't', 'enabled', 'active', 'allow') or (
        str(v).isdigit() and int(v) > 0) if v is not None else False


class PrivateEvent:
    """A queued sendmsg (private event) for the channel."""

    def __init__(self, msg_headers, body=None, raw=None):
        self.headers = list(msg_headers)
        self.body = body
        self.raw = raw

    def get(self, name, default=None):
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return default


class FakeCall:
    """One fake FreeSWITCH channel.  See the package docstring for the public attributes."""

    def __init__(self, switch, destination, caller, caller_name='', channel_vars=None,
                 direction='inbound', sip=False, uuid=None, channel_name=None):
        self.switch = switch
        self.uuid = uuid or str(_uuid.uuid4())
        self.direction = direction
        self.sip = sip
        self.destination = destination
        self.caller = caller
        self.caller_name = caller_name or ''
        self.created = wire.now_us()
        self.times = {'answered': 0, 'progress': 0, 'progress_media': 0, 'hangup': 0, 'bridged': 0}
        if channel_name:
            self.channel_name = channel_name
        elif sip:
            self.channel_name = 'sofia/internal/%s@127.0.0.1:5070' % caller
        elif direction == 'inbound':
            self.channel_name = 'loopback/%s-b' % destination
        else:
            self.channel_name = 'loopback/%s-a' % destination
        self.state = 'CS_INIT'
        self.state_number = 1
        self.call_state = 'DOWN'
        self.answer_state = 'ringing'
        self.media = not sip
        # public observation attributes
        self.vars = {}
        self.executed = []
        self.raw_executed = []
        # For set-up latency figures: when the socket application connected
        # to the call server, and when its first sendmsg for this call arrived.
        self.socket_connected_at = None
        self.first_sendmsg_at = None
        self.spoken = []
        self.played = []
        self.dtmf_sent = []
        self.answered = False
        self.pre_answered = False
        self.ringing_sent = False
        self.sip_response = None
        self.hangup_cause = None
        self.wire = []
        # internals
        self.down = False
        self.destroyed = False
        self.conn = None
        self.partner = None
        self.partner_role = None
        self._dtmf = []
        self._wake = GEvent()
        self._break = False
        self._private = []
        self._event_lock = 0
        self._running = []
        self._on_execute = {}
        self._disco_point = None
        self._released = False
        self._closed = GEvent()
        self._records = []
        self.session_events = []
        self._kicked = False
        self._greenlet = None
        self.hangup_evt = GEvent()

        v = self.vars
        v['direction'] = direction
        if direction == 'outbound':
            v['is_outbound'] = 'true'
        v['uuid'] = self.uuid
        v['session_id'] = str(switch._next_session_id())
        if sip:
            self._sip_vars()
        v['channel_name'] = self.channel_name
        if self.media:
            v.update(read_codec='L16', read_rate='8000', write_codec='L16', write_rate='8000')
        for k, val in (channel_vars or {}).items():
            self.set_var(k, val)
        v['call_uuid'] = self.uuid

    # ------------------------------------------------------------------ public helpers
    def press(self, digits):
        """The caller presses keys now (like uuid_recv_dtmf): queued on the channel."""
        for d in str(digits):
            if d in '0123456789*#ABCDabcd':
                self._dtmf.append(d.upper())
        self._wake.set()

    def on_execute(self, app_name, fn):
        """Call fn(call, arg) in a new greenlet whenever application app_name starts."""
        self._on_execute.setdefault(app_name.lower(), []).append(fn)

    def hangup(self, cause='NORMAL_CLEARING'):
        """The far end hangs up."""
        self._hangup(str2cause(cause), from_app=False)

    def wait_closed(self, timeout=5):
        """Until the outbound socket of this call is closed (or never came up)."""
        return self._closed.wait(timeout)

    def __repr__(self):
        return '<FakeCall %s %s %s>' % (self.uuid, self.channel_name, 'down' if self.down else self.call_state)

    # ------------------------------------------------------------------ variables
    def set_var(self, name, value):
        """switch_channel_set_variable: None/'' deletes, re-setting moves it to the end."""
        self.vars.pop(name, None)
        if value is not None and value != '':
            self.vars[name] = str(value)

    def get_var(self, name):
        if name in self.vars:
            return self.vars[name]
        low = {
            'caller_id_number': self.caller, 'caller_id_name': self.caller_name or None,
            'destination_number': self.destination, 'ani': self.caller, 'context': 'default',
            'dialplan': 'XML' if self.sip else 'xml', 'chan_name': self.channel_name,
            'channel_name': self.channel_name, 'uuid': self.uuid, 'unique_id': self.uuid,
            'network_addr': '127.0.0.1' if self.sip else None, 'state': self.state,
        }
        if name in low:
            return low[name]
        return self.switch.global_vars.get(name)

    def expand(self, text):
        return expand_variables(text, self.get_var, lambda c, a: self.switch.api(c, a, session=self))

    def _sip_vars(self):
        c, d = self.caller, self.destination
        stripped = c.lstrip('+')
        for k, val in [
                ('sip_from_user', c), ('sip_from_port', '5070'), ('sip_from_uri', '%s@127.0.0.1:5070' % c),
                ('sip_from_host', '127.0.0.1'), ('video_media_flow', 'disabled'),
                ('audio_media_flow', 'disabled'), ('text_media_flow', 'disabled')]:
            self.vars[k] = val
        self.vars['channel_name'] = self.channel_name
        for k, val in [
                ('sip_call_id', '1-%d@127.0.0.1' % (hash(self.uuid) % 100000)),
                ('sip_local_network_addr', '127.0.0.1'), ('sip_network_ip', '127.0.0.1'),
                ('sip_network_port', '5070'), ('sip_invite_stamp', str(self.created)),
                ('sip_received_ip', '127.0.0.1'), ('sip_received_port', '5070'),
                ('sip_via_protocol', 'udp'), ('sip_from_user_stripped', stripped),
                ('sip_from_tag', '%sT1' % (hash(self.uuid) % 10000)), ('sofia_profile_name', 'internal'),
                ('sofia_profile_url', 'sip:mod_sofia@127.0.0.1:5060'), ('recovery_profile_name', 'internal'),
                ('sip_full_via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1-1-0'),
                ('sip_from_display', self.caller_name or None),
                ('sip_full_from', '"%s" <sip:%s@127.0.0.1:5070>;tag=1T1' % (self.caller_name, c)),
                ('sip_full_to', '<sip:%s@127.0.0.1:5060>' % d), ('sip_req_user', d),
                ('sip_req_port', '5060'), ('sip_req_uri', '%s@127.0.0.1:5060' % d),
                ('sip_req_host', '127.0.0.1'), ('sip_to_user', d), ('sip_to_port', '5060'),
                ('sip_to_uri', '%s@127.0.0.1:5060' % d), ('sip_to_host', '127.0.0.1'),
                ('sip_contact_user', c), ('sip_contact_port', '5070'),
                ('sip_contact_uri', '%s@127.0.0.1:5070' % c), ('sip_contact_host', '127.0.0.1'),
                ('rtp_use_codec_string', 'OPUS,G722,PCMU,PCMA'), ('sip_via_host', '127.0.0.1'),
                ('sip_via_port', '5070'), ('max_forwards', '70'),
                ('presence_id', '%s@127.0.0.1' % c), ('endpoint_disposition', 'DELAYED NEGOTIATION')]:
            if val is not None:
                self.vars[k] = val

    # ------------------------------------------------------------------ events
    def _profile(self, ev, prefix, other=False):
        sip = self.sip
        add = ev.add
        add(prefix + 'Direction', self.direction)
        add(prefix + 'Logical-Direction', self.direction)
        if sip:
            add(prefix + 'Username', self.caller)
        add(prefix + 'Dialplan', 'XML' if sip else 'xml')
        add(prefix + 'Caller-ID-Name', self.caller_name or None)
        add(prefix + 'Caller-ID-Number', self.caller or None)
        add(prefix + 'Orig-Caller-ID-Name', self.caller_name or None)
        add(prefix + 'Orig-Caller-ID-Number', self.caller or None)
        if sip:
            add(prefix + 'Network-Addr', '127.0.0.1')
        add(prefix + 'ANI', self.caller or None)
        add(prefix + 'Destination-Number', self.destination)
        add(prefix + 'Unique-ID', self.uuid)
        add(prefix + 'Source', 'mod_sofia' if sip else 'mod_loopback')
        add(prefix + 'Context', 'default')
        add(prefix + 'Channel-Name', self.channel_name)
        if not other:
            add(prefix + 'Profile-Index', 1)
        add(prefix + 'Profile-Created-Time', self.created)
        add(prefix + 'Channel-Created-Time', self.created)
        add(prefix + 'Channel-Answered-Time', self.times['answered'])
        add(prefix + 'Channel-Progress-Time', self.times['progress'])
        add(prefix + 'Channel-Progress-Media-Time', self.times['progress_media'])
        add(prefix + 'Channel-Hangup-Time', self.times['hangup'])
        add(prefix + 'Channel-Transfer-Time', 0)
        add(prefix + 'Channel-Resurrect-Time', 0)
        add(prefix + 'Channel-Bridged-Time', self.times['bridged'])
        add(prefix + 'Channel-Last-Hold', 0)
        add(prefix + 'Channel-Hold-Accum', 0)
        add(prefix + 'Screen-Bit', 'true')
        add(prefix + 'Privacy-Hide-Name', 'false')
        add(prefix + 'Privacy-Hide-Number', 'false')

    def _channel_data(self, ev, with_vars=True):
        """switch_channel_event_set_data."""
        add = ev.add
        add('Channel-State', self.state)
        add('Channel-Call-State', self.call_state)
        add('Channel-State-Number', self.state_number)
        add('Channel-Name', self.channel_name)
        add('Unique-ID', self.uuid)
        add('Call-Direction', self.direction)
        add('Presence-Call-Direction', self.direction)
        add('Channel-HIT-Dialplan', 'true')
        if self.sip:
            add('Channel-Presence-ID', '%s@127.0.0.1' % self.caller)
        add('Channel-Call-UUID', self.uuid)
        add('Answer-State', self.answer_state)
        if self.down:
            add('Hangup-Cause', self.hangup_cause)
        if self.media:
            codec, rate, bits = ('PCMU', 8000, 64000) if self.sip else ('L16', 8000, 128000)
            add('Channel-Read-Codec-Name', codec)
            add('Channel-Read-Codec-Rate', rate)
            add('Channel-Read-Codec-Bit-Rate', bits)
            add('Channel-Write-Codec-Name', codec)
            add('Channel-Write-Codec-Rate', rate)
            add('Channel-Write-Codec-Bit-Rate', bits)
        self._profile(ev, 'Caller-')
        if self.partner is not None:
            add('Other-Type', self.partner_role)
            self.partner._profile(ev, 'Other-Leg-', other=True)
        if with_vars:
            for k, v in list(self.vars.items()):
                add('variable_' + k, v)
        return ev

    def fire(self, name, pre=(), post=(), calling=None):
        if not self.switch.anyone_subscribed(name):
            return None
        ev = wire.Event(name, calling=calling)
        for k, v in pre:
            ev.add(k, v)
        self._channel_data(ev)
        for k, v in post:
            ev.add(k, v)
        self.switch.fire(ev)
        return ev

    def _set_state(self, state):
        self.state = state
        self.state_number = STATE_NUMBERS[state]
        self.fire('CHANNEL_STATE')

    def _set_callstate(self, cs):
        old = self.call_state
        self.call_state = cs
        self.fire('CHANNEL_CALLSTATE', pre=[('Original-Channel-Call-State', old)])

    # ------------------------------------------------------------------ call control
    def _mark_answered(self):
        if self.answered or self.down:
            return
        if self.sip and not self.media:
            self._mark_pre_answered(event=True)
        self.answered = True
        self.media = True
        self.times['answered'] = wire.now_us()
        self.answer_state = 'answered'
        self.set_var('endpoint_disposition', 'ANSWER')
        self.fire('CHANNEL_ANSWER')
        self._set_callstate('ACTIVE')

    def _mark_pre_answered(self, event=True):
        if self.pre_answered or self.answered or self.down:
            return
        self.pre_answered = True
        self.media = True
        self.times['progress_media'] = wire.now_us()
        self.answer_state = 'early'
        self.set_var('endpoint_disposition', 'EARLY MEDIA')
        self.fire('CHANNEL_PROGRESS_MEDIA')
        self._set_callstate('EARLY')

    def _mark_ring_ready(self):
        if self.ringing_sent or self.answered or self.down:
            return
        self.ringing_sent = True
        self.times['progress'] = wire.now_us()
        self.fire('CHANNEL_PROGRESS')
        self._set_callstate('RING_WAIT')

    def _hangup(self, cause, from_app=False):
        """switch_channel_perform_hangup."""
        if self.down:
            return
        self.down = True
        self.hangup_cause = cause
        self.state_number = 10
        self.answer_state = 'hangup'
        self._disco_point = 'complete' if from_app else 'hangup'
        self.fire('CHANNEL_HANGUP')
        self.hangup_evt.set()
        if self.conn is not None and not from_app:
            self.conn.channel_down()
        self._wake.set()
        if self.partner is not None:
            self.partner._wake.set()

    def _teardown(self):
        """CS_HANGUP -> CS_REPORTING (CHANNEL_HANGUP_COMPLETE) -> CS_DESTROY."""
        for path in list(self._records):
            self._stop_record(path)
        self.state = 'CS_HANGUP'
        self.fire('CHANNEL_STATE')
        self.times['hangup'] = wire.now_us()
        self._set_callstate('HANGUP')
        self.state, self.state_number = 'CS_REPORTING', 11
        self.fire('CHANNEL_STATE')
        self._cdr_vars()
        self.fire('CHANNEL_HANGUP_COMPLETE', pre=[('Hangup-Cause', self.hangup_cause)])
        if self.conn is not None and self._disco_point == 'complete':
            self.conn.channel_down()
        if self.conn is not None:
            # the listener holds the session until its socket is gone
            self.conn.closed_evt.wait()
        self._closed.set()
        self.state_number = 12
        self.fire('CHANNEL_DESTROY')
        self.state = 'CS_DESTROY'
        self.fire('CHANNEL_STATE')
        self.destroyed = True

    def _cdr_vars(self):
        sv = self.set_var
        created, ans, end = self.created, self.times['answered'], self.times['hangup']
        sv('hangup_cause', self.hangup_cause)
        sv('hangup_cause_q850', q850(self.hangup_cause))
        sv('digits_dialed', 'none')
        fmt = lambda us: time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(us / 1e6))
        sv('start_stamp', fmt(created))
        sv('profile_start_stamp', fmt(created))
        if ans:
            sv('answer_stamp', fmt(ans))
        sv('end_stamp', fmt(end))
        sv('start_epoch', created // 1000000)
        sv('start_uepoch', created)
        sv('answer_epoch', ans // 1000000)
        sv('answer_uepoch', ans)
        sv('end_epoch', end // 1000000)
        sv('end_uepoch', end)
        if self.executed:
            sv('last_app', self.executed[-1][0])
            sv('last_arg', self.executed[-1][1])
        sv('caller_id', '"%s" <%s>' % (self.caller_name, self.caller))
        dur = end - created
        bill = end - ans if ans else 0
        sv('duration', dur // 1000000)
        sv('billsec', bill // 1000000)
        sv('answersec', (ans - created) // 1000000 if ans else 0)
        sv('waitsec', (ans - created) // 1000000 if ans else 0)
        sv('mduration', dur // 1000)
        sv('billmsec', bill // 1000)
        sv('answermsec', (ans - created) // 1000 if ans else 0)
        sv('uduration', dur)
        sv('billusec', bill)

    # ------------------------------------------------------------------ waiting / DTMF / private events
    def _take_dtmf(self, want):
        """Dequeue the first queued key accepted by want (True = any key)."""
        for i, d in enumerate(self._dtmf):
            if want is True or d in want:
                del self._dtmf[i]
                self.fire('DTMF', post=[('DTMF-Digit', d), ('DTMF-Duration', 2000),
                                        ('DTMF-Source', 'RTP' if self.sip else 'APP')])
                return d
        return None

    def _can_nest(self):
        return self._private and not self._event_lock and self.switch.strict_event_lock and not self._released

    def _wait(self, timeout, dtmf=None, media=False, breakable=True, stop_on_key=False):
        """Wait inside an application; parses queued private events (nested execution).

        timeout: seconds or None; dtmf: None, True (any key) or a string of keys;
        stop_on_key: end at the first queued key, leaving it queued.
        Returns (reason, key) with reason 'timeout', 'dtmf', 'break' or 'hangup'.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.down:
                return 'hangup', None
            if breakable and self._break:
                self._break = False
                return 'break', None
            if self._kicked:
                return 'break', None
            if dtmf is not None:
                d = self._take_dtmf(dtmf)
                if d is not None:
                    return 'dtmf', d
            if stop_on_key and self._dtmf:
                return 'dtmf', None
            if self._can_nest():
                started = time.monotonic()
                self._parse_next_private()
                if media and deadline is not None:
                    deadline += time.monotonic() - started
                continue
            if deadline is None:
                remaining = None
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return 'timeout', None
            self._wake.clear()
            self._wake.wait(remaining)

    def _queue_private(self, pev):
        self._private.append(pev)
        self._wake.set()

    def _parse_next_private(self):
        """switch_ivr_parse_next_event."""
        pev = self._private.pop(0)
        self._parse_event(pev)
        if not self.switch.anyone_subscribed('PRIVATE_COMMAND'):
            return
        ev = wire.Event('PRIVATE_COMMAND', standard=False)
        ev.add('Command', pev.raw if pev.raw is not None else 'sendmsg')
        for k, v in pev.headers:
            ev.add(k, v)
        ev.add_standard()
        self._channel_data(ev, with_vars=False)
        self.switch.fire(ev)

    def _parse_event(self, pev):
        """switch_ivr_parse_event."""
        cmd = (pev.get('call-command') or '').lower()
        lock = switch_true(pev.get('event-lock'))
        if lock:
            self._event_lock += 1
        try:
            if cmd == 'execute':
                app = pev.get('execute-app-name')
                arg = pev.get('execute-app-arg')
                if not arg and (pev.get('content-type') or '').lower() == 'text/plain':
                    arg = pev.body
                loops = 1
                if pev.get('loops'):
                    try:
                        loops = int(pev.get('loops'))
                    except ValueError:
                        loops = 1
                if not app:
                    return
                x = 0
                while x < loops or loops < 0:
                    if pev.get('event-uuid'):
                        self.set_var('app_uuid', pev.get('event-uuid'))
                    if pev.get('event-uuid-name'):
                        self.set_var('app_uuid_name', pev.get('event-uuid-name'))
                    self.set_var('current_loop', x + 1)
                    self.set_var('total_loops', loops)
                    ok = self.execute_application(app, arg)
                    x += 1
                    if not ok or self.down or self._kicked:
                        break
                self.set_var('current_loop', None)
                self.set_var('total_loops', None)
            elif cmd == 'hangup':
                self._hangup(str2cause(pev.get('hangup-cause')), from_app=True)
        finally:
            if lock:
                self._event_lock -= 1

    # ------------------------------------------------------------------ application execution
    def execute_application(self, app, arg):
        """switch_core_session_execute_application + switch_core_session_exec."""
        if self.down:
            return False    # hung up: applications without zombie_exec are skipped silently
        name = app.strip()
        handler = APPS.get(name.lower())
        if handler is None:
            self._hangup('DESTINATION_OUT_OF_ORDER', from_app=True)
            return False
        name = name.lower()
        if name in MEDIA_APPS and self.direction == 'inbound' and not (self.answered or self.pre_answered):
            self._mark_pre_answered()
        app_uuid = self.vars.pop('app_uuid', None) or str(_uuid.uuid4())
        app_uuid_name = self.vars.pop('app_uuid_name', None)
        expanded = arg
        if arg is not None and not switch_true(self.get_var('app_disable_expand_variables')):
            expanded = self.expand(arg)
        self.raw_executed.append((name, arg))
        self.executed.append((name, expanded))
        self.set_var('current_application', name)
        self.set_var('current_application_data', expanded)
        self.set_var('current_application_response', None)
        self.fire('CHANNEL_EXECUTE', post=[('Application', name), ('Application-Data', expanded),
                                           ('Application-UUID', app_uuid),
                                           ('Application-UUID-Name', app_uuid_name)])
        self._break = False
        self.set_var('current_application', name)
        for fn in self._on_execute.get(name, ()):
            gevent.spawn(fn, self, expanded)
        self._running.append(name)
        try:
            handler(self, expanded if expanded is not None else '')
        finally:
            self._running.pop()
        resp = self.vars.get('current_application_response')
        self.fire('CHANNEL_EXECUTE_COMPLETE', post=[
            ('Application', name), ('Application-Data', expanded),
            ('Application-Response', resp or '_none_'), ('Application-UUID', app_uuid),
            ('Application-UUID-Name', app_uuid_name)])
        return True

    # ------------------------------------------------------------------ session program
    def start(self, program):
        """Run the dialplan applications [(app, arg), ...] in the channel's own greenlet."""
        self._greenlet = gevent.spawn(self._run, program)
        return self

    def _run(self, program):
        try:
            for app, arg in program:
                if self.down:
                    break
                self.execute_application(app, arg)
                if self._released:
                    self.hangup_evt.wait()
            if not self.down:
                # no more dialplan applications: FreeSWITCH hangs up
                self._hangup('NORMAL_CLEARING', from_app=True)
            self._teardown()
        except gevent.GreenletExit:
            pass
        finally:
            self._closed.set()

    def _media_seconds(self, nfiles):
        return max(nfiles, 1) * self.switch.media_ms / 1000.0

    def _scaled(self, ms):
        return max(0.0, float(ms)) * self.switch.time_scale / 1000.0

    def _playback_terminators(self):
        t = self.get_var('playback_terminators')
        if t is None:
            t = '*'
        if t.lower() == 'any':
            t = '1234567890*#'
        if t.lower() == 'none':
            t = ''
        return t

    def _play_file(self, path, collect=False, terminators=None):
        """switch_ivr_play_file. Returns ('done'|'break'|'hangup'|'dtmf', key)."""
        files = path[len('file_string://'):].split('!') if path.startswith('file_string://') else [path]
        self.played.extend(files)
        ftype = path.split('://', 1)[0] if '://' in path else None
        self.fire('PLAYBACK_START', post=[('Playback-File-Type', ftype), ('Playback-File-Path', path)])
        want = True if collect else (terminators or None)
        started = time.monotonic()
        reason, key = self._wait(self._media_seconds(len(files)), dtmf=want, media=True)
        ms = int((time.monotonic() - started) * 1000)
        status = 'done' if reason == 'timeout' else 'break'
        self.fire('PLAYBACK_STOP', post=[('Playback-File-Type', ftype), ('Playback-File-Path', path),
                                         ('Playback-Status', status)])
        self.set_var('playback_last_offset_pos', ms * 8)
        self.set_var('playback_seconds', ms // 1000)
        self.set_var('playback_ms', ms)
        self.set_var('playback_samples', ms * 8)
        return ('done' if reason == 'timeout' else reason), key

    def _stop_record(self, path):
        if path in self._records:
            self._records.remove(path)
            self.fire('RECORD_STOP', post=[('Record-File-Path', path)],
                      calling=('switch_ivr_async.c', 'send_record_stop_event', 1241))


def _write_wav(path):
    try:
        d = os.path.dirname(path)
        if d and not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
        with open(path, 'wb') as f:
            f.write(WAV_HEADER)
    except OSError:
        pass


# ====================================================================== applications
def app_answer(call, arg):
    call._mark_answered()


def app_pre_answer(call, arg):
    call._mark_pre_answered()


def app_ring_ready(call, arg):
    call._mark_ring_ready()


def app_respond(call, arg):
    code_s = (arg or '').strip().split(' ', 1)[0]
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
        call._hangup(SIP_CAUSES.get(code, 'NORMAL_UNSPECIFIED'), from_app=True)


def app_hangup(call, arg):
    call._hangup(str2cause(arg) if arg else 'NORMAL_CLEARING', from_app=True)


def _split_assign(arg):
    name, sep, val = arg.partition('=')
    return name.strip(), (val if sep else None)


def app_set(call, arg):
    name, val = _split_assign(arg)
    if name:
        call.set_var(name, val)


def app_export(call, arg):
    name, val = _split_assign(arg)
    if name.startswith('nolocal:'):
        name = name[len('nolocal:'):]
    else:
        call.set_var(name, val)
    if name:
        exp = call.vars.get('export_vars', '')
        names = [n for n in exp.split(',') if n]
        if name not in names:
            names.append(name)
        call.set_var('export_vars', ','.join(names))


def app_unset(call, arg):
    call.set_var(arg.strip(), None)


def app_multiset(call, arg):
    delim = ' '
    text = arg
    if text.startswith('^^') and len(text) > 3:
        delim, text = text[2], text[3:]
    for part in separate_string(text, delim, 256):
        name, val = _split_assign(part)
        if name:
            call.set_var(name, val)


def app_playback(call, arg):
    path = arg
    if '@@' in path:
        path = path.split('@@', 1)[0]
    call.set_var('playback_terminator_used', None)
    terms = call._playback_terminators()
    reason, key = call._play_file(path, terminators=terms)
    if reason == 'dtmf':
        call.set_var('playback_terminator_used', key)
    if reason == 'hangup':
        call.set_var('current_application_response', 'PLAYBACK ERROR')
    else:
        call.set_var('current_application_response', 'FILE PLAYED')


def app_speak(call, arg):
    parts = separate_string(arg, '|', 3)
    raw = arg.split('|', len(parts) - 1) if parts else []
    engine = voice = None
    text = None
    if len(parts) == 1:
        text = arg
    elif len(parts) == 2:
        voice, text = parts[0], raw[-1]
    elif len(parts) >= 3:
        engine, voice, text = parts[0], parts[1], raw[-1]
    engine = engine or call.get_var('tts_engine')
    voice = voice or call.get_var('tts_voice')
    if not (engine and voice and text):
        call._hangup('DESTINATION_OUT_OF_ORDER', from_app=True)
        return
    call.spoken.append(text)
    call.set_var('playback_terminator_used', None)
    reason, key = call._wait(call._media_seconds(1), dtmf=call._playback_terminators() or None, media=True)
    if reason == 'dtmf':
        call.set_var('playback_terminator_used', key)


def _read(call, min_d, max_d, prompt, var_name, timeout, terms, digit_timeout):
    """switch_ivr_read -> (status, digits)."""
    if not digit_timeout:
        digit_timeout = timeout
    if max_d < min_d:
        max_d = min_d
    call.set_var('read_result', None)
    if var_name:
        call.set_var(var_name, None)
    buf = ''
    status = 'success'
    if prompt and prompt.lower() != 'silence':
        reason, key = call._play_file(prompt, collect=True)
        if reason == 'dtmf':
            buf = key
        elif reason == 'hangup':
            status = 'false'
    term = ''
    if status != 'false':
        if (min_d and len(buf) < min_d) or len(buf) < max_d:
            status, buf, term = _collect(call, buf, max_d, terms,
                                         digit_timeout if buf else timeout, digit_timeout)
        if term:
            call.set_var('read_terminator_used', term)
            p = terms.find(term)
            if p >= 1 and terms[p - 1] in '+x':
                buf += term
                if terms[p - 1] == 'x':
                    status = 'restart'
        elif terms and terms.startswith('='):
            status = 'too_small'
        if min_d and len(buf) < min_d:
            status = 'too_small'
        call.set_var('read_result', {'success': 'success', 'timeout': 'timeout'}.get(status, 'failure'))
    if status != 'restart' and max_d == 1 and len(buf) == 1 and terms and buf in terms:
        buf = ''
    if var_name and buf:
        call.set_var(var_name, buf)
    return status, buf


def _collect(call, buf, max_d, terms, first_timeout, digit_timeout):
    """switch_ivr_collect_digits_count -> (status, buf, terminator)."""
    if len(buf) >= max_d:
        return 'false', buf, ''
    if terms:
        for i, d in enumerate(buf):
            if d in terms:
                return 'success', buf[:i], d
    eff = first_timeout if first_timeout else digit_timeout
    deadline = time.monotonic() + call._scaled(eff) if eff else None
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        reason, key = call._wait(remaining, dtmf=True, breakable=False)
        if reason == 'hangup':
            return 'false', buf, ''
        if reason == 'timeout':
            return 'timeout', buf, ''
        if reason == 'dtmf':
            if terms and key in terms:
                return 'success', buf, key
            buf += key
            if len(buf) >= max_d:
                return 'success', buf, ''
            if digit_timeout:
                deadline = time.monotonic() + call._scaled(digit_timeout)


def app_play_and_get_digits(call, arg):
    argv = separate_string(arg, ' ', 11)
    if not argv:
        return
    argv += [None] * (11 - len(argv))
    atoi = lambda s, d=0: int(re.match(r'\s*([+-]?\d*)', s or '').group(1) or d) if s else d
    min_d = max(atoi(argv[0]), 0)
    max_d = atoi(argv[1])
    tries = atoi(argv[2])
    timeout = atoi(argv[3], 1000) if argv[3] is not None else 1000
    terms = argv[4]
    prompt, invalid, var_name, regex = argv[5], argv[6], argv[7], argv[8]
    digit_timeout = atoi(argv[9]) if argv[9] else 0
    transfer_on_failure = argv[10]
    if max_d < min_d:
        max_d = min_d
    if timeout <= 1000:
        timeout = 1000
    if not terms:
        terms = '#'
    if regex and var_name:
        call.set_var(var_name + '_invalid', None)
    while not call.down and tries:
        status, buf = _read(call, min_d, max_d, prompt, var_name, timeout, terms, digit_timeout)
        if status == 'restart':
            return
        if status == 'timeout' and len(buf) >= min_d:
            status = 'success'
        if min_d == 0 and not buf and call.vars.get('read_terminator_used'):
            return
        if not (status == 'too_small' and not buf):
            if status == 'success' and buf:
                if not regex or re.search(regex, buf):
                    return
                if var_name:
                    call.set_var(var_name, None)
                    call.set_var(var_name + '_invalid', buf)
        if call.down:
            break
        if invalid:
            call._play_file(invalid)
        tries -= 1
    if transfer_on_failure:
        call.switch.log.append((call.uuid, 'PAGD failure! Transfer to: %s' % transfer_on_failure))


def app_sleep(call, arg):
    try:
        ms = int(arg.strip() or 0)
    except ValueError:
        return
    if switch_true(call.get_var('sleep_eat_digits')):
        # Keys are read (and dropped) unless they are playback terminators, which end it.
        deadline = time.monotonic() + call._scaled(ms)
        while True:
            reason, key = call._wait(max(0.0, deadline - time.monotonic()), dtmf=True)
            if reason != 'dtmf' or key in (call._playback_terminators() or ''):
                return
    else:
        # Without it, mod_dptools' sleep ends at the first key and leaves it queued
        # (checked on a real switch: tests/integration/test_callflows.py).
        call._wait(call._scaled(ms), stop_on_key=True)


def app_send_dtmf(call, arg):
    digits = arg.strip().split('@', 1)[0]
    call.dtmf_sent.append(digits)


def app_flush_dtmf(call, arg):
    del call._dtmf[:]


def app_record(call, arg):
    argv = separate_string(arg, ' ', 4)
    if not argv:
        return
    path = argv[0]
    limit = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 0
    hits = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 0
    _write_wav(path)
    call.fire('RECORD_START', post=[('Record-File-Path', path)])
    secs = [s for s in (limit, hits) if s > 0]
    timeout = call._scaled(min(secs) * 1000) if secs else None
    call.set_var('playback_terminator_used', None)
    reason, key = call._wait(timeout, dtmf=call._playback_terminators() or None)
    if reason == 'dtmf':
        call.set_var('playback_terminator_used', key)
    call.set_var('silence_hits_exhausted', 'true' if (reason == 'timeout' and hits and (not limit or hits <= limit)) else 'false')
    call.set_var('record_record_file_size', 44)
    call.set_var('record_file_size', 44)
    call.set_var('record_seconds', 0)
    call.set_var('record_ms', 0)
    call.set_var('record_samples', 0)
    call.fire('RECORD_STOP', post=[('Record-File-Path', path)])


def app_record_session(call, arg):
    path = separate_string(arg, ' ', 2)[0] if arg.strip() else ''
    if not path:
        return
    _write_wav(path)
    call._records.append(path)
    call.fire('RECORD_START', post=[('Record-File-Path', path)],
              calling=('switch_ivr_async.c', 'record_callback', 1482))


def app_stop_record_session(call, arg):
    path = arg.strip()
    for p in list(call._records):
        if path in ('all', p):
            call._stop_record(p)


def app_log(call, arg):
    call.switch.log.append((call.uuid, arg))


def app_info(call, arg):
    call.switch.log.append((call.uuid, 'info'))


def app_sched_hangup(call, arg):
    argv = separate_string(arg, ' ', 5)
    if not argv:
        return
    call.switch.schedule_hangup(call, argv[0], str2cause(argv[1], 'ALLOTTED_TIMEOUT') if len(argv) > 1 else 'ALLOTTED_TIMEOUT')


def app_park(call, arg):
    call.fire('CHANNEL_PARK')
    call.state = 'CS_EXECUTE'
    while not call.down:
        if call._private:
            call._parse_next_private()
            continue
        call._wake.clear()
        call._wake.wait()
    call.fire('CHANNEL_UNPARK')


def app_echo(call, arg):
    call._wait(None, breakable=True)


def _connect(host, port):
    """A TCP connection to the socket application's host (a numeric address
    connects directly: gevent resolves a name in a thread, which costs more
    than the whole connect)."""
    try:
        family = gsocket.AF_INET6 if ':' in host else gsocket.AF_INET
        gsocket.inet_pton(family, host)
    except OSError:
        sock = gsocket.create_connection((host, port), timeout=5)
    else:
        sock = gsocket.socket(family, gsocket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
    sock.settimeout(None)
    return sock


def app_socket(call, arg):
    """mod_event_socket's socket application (outbound ESL)."""
    from .listener import EslConnection
    argv = separate_string(arg, ' ', 80)
    if not argv:
        return
    target = argv[0].split('|')[0]
    host, _, port = target.rpartition(':')
    if not host:
        host, port = target, '8084'
    call.set_var('socket_host', host)
    flags = [a.lower() for a in argv[1:]]
    try:
        sock = _connect(host, int(port))
    except (OSError, ValueError):
        return      # "Socket Error!": the application just returns
    call.socket_connected_at = time.perf_counter()
    # FreeSWITCH writes each message at once; no Nagle delays in the fake either.
    sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
    conn = EslConnection(call.switch, sock, session=call, async_mode='async' in flags,
                         full='full' in flags)
    call.conn = conn
    conn.start()
    conn.connected_evt.wait()
    if call.down:
        return
    call.fire('CHANNEL_PARK')
    while not call.down and conn.controlling and not call._released:
        if call._private:
            call._parse_next_private()
            continue
        call._wake.clear()
        call._wake.wait()
    if not call._released:
        while call._private:
            call._parse_next_private()
    call.fire('CHANNEL_UNPARK')


def app_bridge(call, arg):
    call.switch.bridge(call, arg)


def app_conference(call, arg):
    call.switch.conference_join(call, arg)


def app_fifo(call, arg):
    call.switch.fifo_app(call, arg)


def app_noop(call, arg):
    pass


APPS = {
    'answer': app_answer, 'pre_answer': app_pre_answer, 'ring_ready': app_ring_ready,
    'respond': app_respond, 'hangup': app_hangup, 'set': app_set, 'export': app_export,
    'unset': app_unset, 'multiset': app_multiset, 'playback': app_playback, 'speak': app_speak,
    'play_and_get_digits': app_play_and_get_digits, 'sleep': app_sleep, 'send_dtmf': app_send_dtmf,
    'flush_dtmf': app_flush_dtmf, 'record': app_record, 'record_session': app_record_session,
    'stop_record_session': app_stop_record_session, 'log': app_log, 'info': app_info,
    'sched_hangup': app_sched_hangup, 'park': app_park, 'echo': app_echo, 'socket': app_socket,
    'bridge': app_bridge, 'conference': app_conference, 'fifo': app_fifo,
    'acknowledge_call': app_noop, 'event': app_noop,
}


def app_endless_playback(call, arg):
    """Plays the file over and over until broken (uuid_break, uuid_bridge) or hung up."""
    while not call.down:
        reason, _ = call._play_file(arg)
        if reason != 'done':
            break


def app_record_session_mask(call, arg):
    if arg.strip() in call._records:
        call.masked_records = getattr(call, 'masked_records', set()) | {arg.strip()}


def app_record_session_unmask(call, arg):
    call.masked_records = getattr(call, 'masked_records', set()) - {arg.strip()}


def app_avmd_start(call, arg):
    call.avmd_running = True
    ev = wire.Event('CUSTOM', subclass='avmd::start')
    call._channel_data(ev)
    call.switch.fire(ev)


def app_avmd_stop(call, arg):
    call.avmd_running = False
    ev = wire.Event('CUSTOM', subclass='avmd::stop')
    call._channel_data(ev)
    ev.add('Beep-Status', 'NOTDETECTED')
    call.switch.fire(ev)


def beep(call, frequency=1000.0):
    """The far end beeps: mod_avmd, when listening on the call, reports it."""
    if not getattr(call, 'avmd_running', False) or call.down:
        return False
    ev = wire.Event('CUSTOM', subclass='avmd::beep')
    call._channel_data(ev)
    for k, v in (('Beep-Status', 'DETECTED'), ('Frequency', '%.6f' % frequency),
                 ('Frequency-variance', '0.000010'), ('Amplitude', '0.020000'), ('Detection-time', '1200')):
        ev.add(k, v)
    call.switch.fire(ev)
    return True


APPS.update({'endless_playback': app_endless_playback, 'record_session_mask': app_record_session_mask,
             'record_session_unmask': app_record_session_unmask, 'avmd_start': app_avmd_start,
             'avmd_stop': app_avmd_stop})
