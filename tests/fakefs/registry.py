"""Where the families of the fake FreeSWITCH plug in.

Each family module (``control``, ``media``, ``record``, ``bridge``,
``conference``, ``fifo``, ``api``, ``socket_app``) registers its dialplan
applications and API commands here when it is imported, and per-switch state
it keeps; ``FakeCall.execute_application`` and ``FakeSwitch.api`` only look
names up.  A new family is one new module listed in ``FAMILIES`` in
``switch.py``.
"""

APPS = {}  # application name -> fn(call, arg)
MEDIA_APPS = set()  # applications that need media (no SAF_SUPPORT_NOMEDIA)
API_COMMANDS = {}  # api command name -> fn(switch, arg, session) -> reply text
SWITCH_STATE = {}  # FakeSwitch attribute -> factory of its initial value


def application(name, media=False):
    """Register fn(call, arg) as the dialplan application ``name``.

    media=True: an unanswered inbound channel is pre-answered before it runs
    (switch_core_session_execute_application)."""

    def register(fn):
        APPS[name] = fn
        if media:
            MEDIA_APPS.add(name)
        return fn

    return register


def api_command(name):
    """Register fn(switch, arg, session) as the API command ``name``."""

    def register(fn):
        API_COMMANDS[name] = fn
        return fn

    return register


def switch_state(name, factory):
    """Each FakeSwitch gets attribute ``name`` = factory() (a family's shared state)."""
    SWITCH_STATE[name] = factory
