"""The capabilities (bridge, conference, hold, recording) on the fake switch, through a real ESL socket."""

import os
import uuid

import gevent
import gevent.event
import pytest
from gevent.server import StreamServer

from tests.fakefs import FakeSwitch
from voxology_fs.capabilities import BridgeOutcome
from voxology_fs.channel import ControlInterrupt
from voxology_fs.esl.channel import EslChannel
from voxology_fs.esl.connection import InboundConnection, OutboundSession


class OneCallServer:
    """An outbound socket server that hands each call's EslChannel to the test's script."""

    def __init__(self):
        self.script = None
        self.result = gevent.event.AsyncResult()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, sock, address):
        session = OutboundSession(sock)
        channel = EslChannel(session, session.connect())
        self.call_id = uuid.uuid4().hex
        channel.start(self.call_id)
        try:
            self.result.set(self.script(channel))
        except BaseException as exc:  # the test sees it
            self.result.set_exception(exc)
        finally:
            channel.hangup()
            channel.close()

    def run(self, switch, script, timeout=10, **call):
        self.script = script
        call_ = switch.incoming_call(**call)
        return call_, self.result.get(timeout=timeout)

    def run_made_call(self, switch, script, timeout=10):
        """As run, on a Make Call leg (direction outbound: the one avmd.conf lets mod_avmd listen on)."""
        self.script = script
        leg = switch.api("originate", "loopback/+17145551212/default 1000").split()[1]
        return switch.calls[leg], self.result.get(timeout=timeout)


@pytest.fixture
def server():
    s = OneCallServer()
    yield s
    s.server.stop()


@pytest.fixture
def switch(server):
    fake = FakeSwitch(outbound=("127.0.0.1", server.port), time_scale=0.01, media_ms=5)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def esl(switch):
    conn = InboundConnection.open("127.0.0.1", switch.esl_port, "ClueCon")
    yield conn
    conn.close()


def answered(channel):
    channel.answer()
    return channel


# -- bridging -----------------------------------------------------------------------------
def test_bridge_answered_then_the_other_leg_hangs_up(server, switch):
    legs = {}

    def policy(dialstring, vars):
        legs["uuid"] = vars.get("origination_uuid")
        gevent.spawn_later(0.1, lambda: switch.calls[legs["uuid"]].hangup("NORMAL_CLEARING"))
        return ("answer", 0)

    switch.originate_policy = policy

    def script(channel):
        bridge = answered(channel).bridging()
        bridge.start(["loopback/agent"], ring_timeout_s=20)
        outcome = bridge.wait(5)
        return outcome, channel.is_up

    call, (outcome, still_up) = server.run(switch, script)
    assert isinstance(outcome, BridgeOutcome) and outcome.status == "completed"
    assert outcome.other_uuid == legs["uuid"] and outcome.talk_seconds > 0.05
    assert still_up  # hangup_after_bridge=false: our caller stays
    assert call.get_var("continue_on_fail") == "true"


@pytest.mark.parametrize(
    "verdict,status,cause,sip",
    [
        (("busy",), "busy", "USER_BUSY", 486),
        (("noanswer",), "no_answer", "NO_ANSWER", 480),
        (("fail", "UNALLOCATED_NUMBER"), "failed", "UNALLOCATED_NUMBER", 404),
    ],
)
def test_a_failed_dial_never_hangs_our_caller_up(server, switch, verdict, status, cause, sip):
    switch.originate_policy = lambda dialstring, vars: verdict

    def script(channel):
        bridge = answered(channel).bridging()
        bridge.start(["loopback/nobody"], ring_timeout_s=3)
        outcome = bridge.wait(5)
        channel.play([])  # the call goes on
        return outcome, channel.is_up

    _, (outcome, still_up) = server.run(switch, script)
    assert (outcome.status, outcome.cause, outcome.sip_code) == (status, cause, sip)
    assert still_up and outcome.other_uuid == ""


def test_bridge_tries_targets_in_turn(server, switch):
    switch.originate_policy = lambda ds, vars: ("busy",) if "first" in ds else ("answer", 0)

    def script(channel):
        bridge = answered(channel).bridging()
        bridge.start(["loopback/first", "loopback/second"])
        outcome = bridge.wait(0.3)  # nobody hangs up: the wait's timeout stops it
        return outcome, bridge.leg_uuids

    _, (outcome, legs) = server.run(switch, script)
    assert outcome.status == "completed" and outcome.stopped == "timeout"
    assert outcome.other_uuid == legs[1] and switch.calls[legs[1]].hangup_cause == "NORMAL_CLEARING"


def test_bridge_rejects_a_target_that_is_several(server, switch):
    def script(channel):
        with pytest.raises(ValueError):
            channel.bridging().start(["loopback/a|loopback/b"])
        return True

    assert server.run(switch, script)[1]


# -- conferencing -------------------------------------------------------------------------
def test_conference_member_kicked_from_outside(server, switch, esl):
    def kick(call, arg):
        gevent.spawn_later(0.05, lambda: esl.api("conference roomA kick all"))

    def script(channel):
        switch.calls[channel.info.uuid].on_execute("conference", kick)
        member = answered(channel).conferencing()
        member.start("roomA", flags=frozenset({"mute"}))
        return member.wait(5), channel.is_up

    call, (outcome, up) = server.run(switch, script)
    assert outcome.reason == "kicked" and outcome.member_id == "1" and up
    assert ("conference", "roomA@default+flags{mute}") in call.executed


def test_conference_ended_while_inside(server, switch):
    def script(channel):
        switch.calls[channel.info.uuid].on_execute(
            "conference", lambda c, arg: gevent.spawn_later(0.05, switch.end_conference, "roomB")
        )
        member = answered(channel).conferencing()
        member.start("roomB")
        return member.wait(5), channel.is_up

    _, (outcome, up) = server.run(switch, script)
    # A room that ends (its endconf member left) hangs up the members still in it.
    assert outcome.reason == "hung_up" and not up


def test_conference_stop_kicks_our_member(server, switch):
    def script(channel):
        member = answered(channel).conferencing()
        member.start("roomC")
        outcome = member.wait(0.2)
        return outcome, switch.api_log

    _, (outcome, api_log) = server.run(switch, script)
    assert outcome.reason == "timeout"
    assert "conference roomC kick 1" in api_log
    assert "roomC" not in switch.conferences


def test_conference_refuses_a_room_that_is_not_ours(server, switch):
    def script(channel):
        for room in ("my room", "${x}", "a/b", ""):
            with pytest.raises(ValueError):
                channel.conferencing().start(room)
        return True

    assert server.run(switch, script)[1]


# -- holding ------------------------------------------------------------------------------
def test_hold_taken_by_uuid_bridge_from_another_call(server, switch, esl):
    agent = {}

    def script(channel):
        hold = answered(channel).holding()
        hold.start([])
        agent_uuid = esl.api("originate loopback/agent &park()").split()[1]
        agent["uuid"] = agent_uuid
        gevent.spawn_later(0.1, esl.api, f"uuid_bridge {channel.info.uuid} {agent_uuid}")
        gevent.spawn_later(0.3, esl.api, f"uuid_kill {agent_uuid}")
        return hold.wait(5), channel.is_up

    call, (outcome, up) = server.run(switch, script)
    assert outcome.reason == "taken" and outcome.taken_by == agent["uuid"]
    assert outcome.waited_seconds >= 0.05 and outcome.talk_seconds >= 0.1
    assert up  # park_after_bridge: our flow goes on after the agent hangs up
    # The hold audio is a looped playback (a break ends it), never endless_playback.
    assert [app for app, _ in call.executed if app.endswith("playback")][:1] == ["playback"]


def test_hold_times_out_and_leaves(server, switch):
    def script(channel):
        hold = answered(channel).holding()
        hold.start([])
        return hold.wait(0.2)

    call, outcome = server.run(switch, script)
    assert outcome.reason == "timeout" and outcome.taken_by == ""
    # Several rounds played before the timeout broke the loop.
    assert sum(app == "playback" for app, _ in call.executed) > 1


# -- recording ----------------------------------------------------------------------------
def test_recording_runs_in_the_background_and_stops(server, switch, tmp_path):
    path = str(tmp_path / "rec-1.wav")

    def script(channel):
        rec = answered(channel).recording()
        rec.start(path)
        channel.pause(50)  # the flow goes on while it records
        rec.pause()
        rec.resume()
        running = rec.running
        rec.stop()
        return running, rec.wait(1)

    call, (running, outcome) = server.run(switch, script)
    assert running and outcome.reason == "stopped" and outcome.path == path
    assert os.path.exists(path)
    apps = [app for app, _ in call.executed]
    assert apps.index("record_session") < apps.index("record_session_mask") < apps.index("stop_record_session")


def test_recording_ends_with_the_call(server, switch, tmp_path):
    path = str(tmp_path / "rec-2.wav")

    def script(channel):
        rec = answered(channel).recording()
        rec.start(path)
        gevent.spawn_later(0.05, switch.calls[channel.info.uuid].hangup)
        return rec.wait(5)

    _, outcome = server.run(switch, script)
    assert outcome.reason == "hung_up"


def test_recording_path_is_ours(server, switch):
    def script(channel):
        for path in ("caller name.wav", "relative.wav", "/tmp/../etc/x.wav", "/tmp/${x}.wav"):
            with pytest.raises(ValueError):
                channel.recording().start(path)
        return True

    assert server.run(switch, script)[1]


# -- detecting ----------------------------------------------------------------------------
def test_detector_hears_a_beep_and_switches_itself_off(server, switch):
    from tests.fakefs.avmd import beep

    def script(channel):
        detector = answered(channel).detecting()
        detector.start()
        call = switch.calls[channel.info.uuid]
        gevent.spawn_later(0.1, beep, call, 850.0)
        outcome = detector.wait(5)
        channel.play([])  # avmd_stop queued behind: the flow goes on
        return outcome, call.avmd_running

    call, (outcome, still_listening) = server.run_made_call(switch, script)
    assert outcome.reason == "detected" and outcome.frequency == 850.0 and outcome.seconds >= 0.05
    assert not still_listening and [a for a, _ in call.executed].count("avmd_start") == 1


def test_detector_times_out_and_stops(server, switch):
    def script(channel):
        detector = answered(channel).detecting()
        detector.start()
        outcome = detector.wait(0.1)
        channel.play([])
        return outcome, switch.calls[channel.info.uuid].avmd_running

    _, (outcome, still_listening) = server.run_made_call(switch, script)
    assert outcome.reason == "timeout" and outcome.frequency is None and not still_listening


# -- live control while a capability runs -------------------------------------------------
def test_control_arriving_interrupts_the_wait_with_the_capability_still_running(server, switch, esl):
    def script(channel):
        member = answered(channel).conferencing()
        member.start("roomD")
        gevent.spawn_later(
            0.05,
            esl.sendevent,
            "CUSTOM",
            {"Event-Subclass": "voxology::control", "Vox-Call-ID": server.call_id, "Vox-Command": "hangup"},
            '{"command": "hangup"}',
        )
        with pytest.raises(ControlInterrupt):
            member.wait(5)
        still = member.running
        member.stop("control")
        return still, member.wait(1), switch.api_log

    _, (still, outcome, api_log) = server.run(switch, script)
    assert still and outcome.reason == "control"
    assert "conference roomD kick 1" in api_log
    assert not any(line.startswith("uuid_break") for line in api_log)  # kicked, not broken


def test_live_control_stops_a_running_bridge_by_hanging_up_the_dialled_leg(server, switch, esl):
    from voxology_fs.flow.runner import FlowContext, Services
    from voxology_fs.flow.state import CallState

    def script(channel):
        state = CallState(call_id=server.call_id, direction="inbound", caller_no="1", api_no="2")
        ctx = FlowContext(channel, state, Services(callbacks=None, audio=None))
        bridge = ctx.start(answered(channel).bridging(), ["loopback/agent"])
        gevent.spawn_later(
            0.1,
            esl.sendevent,
            "CUSTOM",
            {"Event-Subclass": "voxology::control", "Vox-Call-ID": server.call_id, "Vox-Command": "hangup"},
            '{"command": "hangup"}',
        )
        with pytest.raises(ControlInterrupt):
            bridge.wait(5)
        assert ctx.running is bridge
        ctx.stop_running("control")  # what the runner does with a live-control request
        return bridge.wait(1), channel.is_up, ctx.running

    _, (outcome, up, running) = server.run(switch, script)
    assert outcome.status == "completed" and outcome.stopped == "control" and running is None
    assert switch.calls[outcome.other_uuid].hangup_cause == "NORMAL_CLEARING" and up
    assert f"uuid_kill {outcome.other_uuid} NORMAL_CLEARING" in switch.api_log


# -- the simulator's twins ------------------------------------------------------------------
def simulated_channel():
    from voxology_fs.simulate import SimulatedChannel, Transcript

    return SimulatedChannel(Transcript(), [], "+19495551212", "+17145551212")


def test_simulated_bridge_follows_the_dial_policy():
    channel = simulated_channel()
    channel.dial_policy = lambda target: ("busy",) if target.endswith("first") else ("answer", 12)
    bridge = channel.bridging()
    bridge.start(["loopback/first", "loopback/second"])
    outcome = bridge.wait()
    assert (outcome.status, outcome.talk_seconds, outcome.other_uuid) == ("completed", 12, "sim-loopback/second")
    assert channel.t.virtual_ms == 12000
    assert "loopback/first: busy (USER_BUSY)" in " ".join(channel.t.lines)
    channel.dial_policy = lambda target: ("noanswer",)
    failed = channel.bridging()
    failed.start(["loopback/x"], ring_timeout_s=5)
    assert (failed.wait().status, failed.wait().sip_code) == ("no_answer", 480)


def test_simulated_conference_hold_and_recording():
    channel = simulated_channel()
    channel.conference_exit = "kicked"
    member = channel.conferencing()
    member.start("acct-abc", flags=frozenset({"mute"}))
    assert member.running and member.wait().reason == "kicked" and not member.running
    hold = channel.holding()
    hold.start([])
    assert hold.wait(30).reason == "timeout"
    channel.hold_taker = "agent-1"
    taken = channel.holding()
    taken.start([])
    assert (taken.wait().reason, taken.wait().taken_by) == ("taken", "agent-1")
    rec = channel.recording()
    rec.start("/var/rec/1.wav")
    rec.pause()
    rec.resume()
    rec.stop()
    assert rec.wait().reason == "stopped"
    lines = " ".join(channel.t.lines)
    assert "caller joins conference acct-abc (mute)" in lines and "recording paused" in lines


def test_simulated_conference_action_uses_the_twin():
    from voxology_fs.simulate import simulate

    path = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples", "conference-greeting.json")
    # A static file comes back for every continue_call: the flow repeats until the callback limit.
    transcript, _, _ = simulate(path, [])
    joined = [line for line in transcript.lines if "joins conference" in line]
    left = [line for line in transcript.lines if "leaves conference" in line]
    assert joined and not any("myConference" in line for line in joined)  # the room is ours
    assert len(left) == len(joined) and left[0].endswith("(left)")


def test_simulated_detector():
    channel = simulated_channel()
    quiet = channel.detecting()
    quiet.start()
    assert quiet.wait(2).reason == "timeout"
    channel.beep_after_ms = 1500
    detector = channel.detecting()
    detector.start()
    assert detector.wait(10).reason == "detected" and detector.wait().seconds == 1.5
