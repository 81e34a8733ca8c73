"""TRANSFER's ``whisper``: a flow run on the called party before the bridge.

FreeSWITCH's own screening does the waiting: each dialled leg carries
``group_confirm_key=exec`` and ``group_confirm_file=socket ...``, so when
it answers, the originate runs our socket on it and bridges it only if it
is still up when the socket lets go (with simultaneous ring, the first leg
to accept wins, not the first to answer).  The whisper flow's call server
is the one that dialled (the leg dials back to its port), so what the
flow needs (its URL, the caller's fields) stays in this process and never
reaches the switch.

With TRANSFER's ``detection``, the answering-machine detector listens to
the leg first (the same ear as DETECT); its verdict is ``$detection`` in
the whisper flow, and ``on_machine: "hangup"`` refuses a machine.  A
detection without a whisper URL accepts whatever else it heard.

The whisper flow accepts by running out of actions; its HANGUP or REJECT
(or a callback that fails) refuses.  It is not a call of its own: no
record, no ``call_ended``; its trace goes to the caller's call.  The flow
runs in :mod:`.whisper_runner`.
"""

from __future__ import annotations

import dataclasses

from .state import CallState

# How long a whisper flow may take once its leg answered (group_confirm_timeout).
WHISPER_SECONDS = 60


@dataclasses.dataclass
class WhisperJob:
    """One dialled leg's screening: what its flow needs, and how it went."""

    url: str
    state: CallState  # the leg's fields in the whisper's callbacks
    caller_call_id: str  # whose trace the whisper's goes to
    answered: bool = False
    accepted: bool = False
    # TRANSFER's detection on this leg: the DETECT mode (None: none), whether
    # a machine is refused ("hangup") or connected, and the verdict.
    detect_mode: str | None = None
    on_machine: str = "connect"
    detection: str | None = None
    detection_detail: str | None = None
