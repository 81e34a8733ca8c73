"""mod_avmd in the fake FreeSWITCH: avmd_start, avmd_stop, and a far end that beeps.

The events copy mod_avmd's CUSTOM ``avmd::start``, ``avmd::stop`` and ``avmd::beep``.
"""
from . import wire
from .registry import application


def _avmd_event(call, subclass, headers=()):
    ev = wire.Event('CUSTOM', subclass=subclass)
    call._channel_data(ev)
    for k, v in headers:
        ev.add(k, v)
    call.switch.fire(ev)


@application('avmd_start')
def app_avmd_start(call, arg):
    call.avmd_running = True
    _avmd_event(call, 'avmd::start')


@application('avmd_stop')
def app_avmd_stop(call, arg):
    call.avmd_running = False
    _avmd_event(call, 'avmd::stop', [('Beep-Status', 'NOTDETECTED')])


def beep(call, frequency=1000.0):
    """The far end beeps: mod_avmd, when listening on the call, reports it."""
    if not getattr(call, 'avmd_running', False) or call.down:
        return False
    _avmd_event(call, 'avmd::beep', [('Beep-Status', 'DETECTED'), ('Frequency', '%.6f' % frequency),
                                     ('Frequency-variance', '0.000010'), ('Amplitude', '0.020000'),
                                     ('Detection-time', '1200')])
    return True
