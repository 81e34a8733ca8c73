"""A fake FreeSWITCH 1.11.1 for tests: real ESL over TCP on 127.0.0.1, gevent only.

Messages (header names/order, reply texts, body framing, disconnect notices,
Application-Response values) are copied from the recordings in
tests/data/esl-transcripts and from mod_event_socket.c.

Usage::

    from tests.fakefs import FakeSwitch
    sw = FakeSwitch(outbound=("127.0.0.1", port), password="ClueCon", time_scale=0.01, media_ms=20)
    sw.start()                        # inbound ESL listener on 127.0.0.1:sw.esl_port
    call = sw.incoming_call(destination="+17145551212", caller="+19495551212", caller_name="",
                            channel_vars=None, expand_variables=False, sip=False)
    ...
    sw.stop()

FakeSwitch
    ``start()`` / ``stop()``; ``esl_port``; ``incoming_call(...)`` -> FakeCall: runs our dialplan
    (``set app_disable_expand_variables=true`` unless expand_variables=True, then
    ``socket HOST:PORT async full`` to ``outbound``); ``sip=True`` gives a sofia/internal channel
    with ``variable_sip_*`` headers, otherwise a loopback channel.
    ``originate_policy = fn(dialstring, vars)`` -> ``("answer", delay_ms)`` | ``("busy",)`` |
    ``("noanswer",)`` | ``("fail", cause)``; used by ``originate`` and ``bridge`` (default: answer
    at once; delay_ms and the no-answer timeout are scaled by time_scale).
    ``calls`` (uuid -> FakeCall, originated legs included, hung-up ones kept);
    ``api_log`` (api/bgapi commands, also those run by ``${api ...}`` expansion);
    ``events`` (every event fired, wire.Event objects); ``log`` (log/info applications);
    ``strict_event_lock`` (default True: like FreeSWITCH, a ``sendmsg`` execute that arrives
    while an application runs is executed nested inside it unless a running application was
    sent with ``event-lock: true``; False = plain FIFO queue).

FakeCall
    ``uuid``, ``vars`` (channel variables), ``executed`` [(app, arg as executed after
    expansion)], ``raw_executed`` [(app, arg as received)], ``spoken``, ``played``,
    ``dtmf_sent``, ``answered``, ``pre_answered``, ``ringing_sent``, ``sip_response``,
    ``hangup_cause``, ``wire`` [('>' sent by the code under test | '<' sent by the fake, bytes)]
    of the outbound socket; ``press(digits)``; ``on_execute(app, fn)`` (fn(call, arg) in a
    greenlet when app starts); ``hangup(cause)`` (far end hangs up); ``wait_closed(timeout)``.

Layout: ``switch`` (FakeSwitch: event bus, inbound ESL, API dispatch), ``channel`` (FakeCall:
state, events, waiting, application execution; with ``channel_data`` and ``private``),
``listener`` (ESL connections, with ``subscriptions``), ``wire``, ``expand``, ``causes``, and one module per family of
applications and API commands: ``control``, ``media``, ``record``, ``bridge``, ``conference``,
``fifo``, ``socket_app``, ``api``.  Each family registers itself in ``registry``
(``@application(name)``, ``@api_command(name)``, ``switch_state(name, factory)``); a new
family is one module added to ``switch.FAMILIES``.

Timing: a played file lasts ``media_ms`` real ms (file_string:// counts each file), sleeps,
collect timeouts, record limits and sched_hangup take their value x ``time_scale``.
"""

from . import wire
from .channel import FakeCall
from .switch import FakeSwitch

__all__ = ["FakeCall", "FakeSwitch", "wire"]
