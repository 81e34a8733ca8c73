"""Capabilities on a real FreeSWITCH: a recording and the beep detector.

No action uses them yet, so a test-only action (registered for the test's
duration) runs them on the live call's channel.
"""

import os
import time

import gevent

from tests.integration.test_callflows import DIALLED, dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.support.provision import provision
from voxology_fs.channel import Silence
from voxology_fs.flow.actions import base


def capability_action(script):
    class TryCapabilities(base.Action):
        type = "TEST_CAPABILITIES"
        needs_media = True

        def run(self, ctx):
            script(ctx.channel)

    return TryCapabilities


def test_recording_and_detector_on_a_real_switch(voxology, callback_server, dial, monkeypatch, tmp_path):  # noqa: F811
    path = str(tmp_path / "rec-real.wav")
    outcomes = {}

    def script(channel):
        rec = channel.recording()
        rec.start(path)
        channel.pause(600)
        rec.pause()
        channel.pause(200)
        rec.resume()
        rec.stop()
        outcomes["record"] = rec.wait(2)
        detector = channel.detecting()
        detector.start()
        outcomes["detect"] = detector.wait(0.5)  # the caller's silence has no beep
        channel.pause(100)  # the call goes on: avmd_stop was queued and ran
        outcomes["up"] = channel.is_up

    monkeypatch.setitem(base.REGISTRY, "TEST_CAPABILITIES", capability_action(script))
    provision(callback_server.static("/caps", {"actions": [{"type": "TEST_CAPABILITIES"}, {"type": "HANGUP"}]}))
    call = dial()
    finished(call, callback_server)
    assert outcomes["record"].reason == "stopped" and outcomes["record"].path == path
    assert os.path.getsize(path) > 44  # audio was written, not only a header
    assert outcomes["detect"].reason == "timeout" and outcomes["up"]
    apps = [app for app, _ in call.executed()]
    for app in (
        "record_session",
        "record_session_mask",
        "record_session_unmask",
        "stop_record_session",
        "avmd_start",
        "avmd_stop",
    ):
        assert app in apps, apps


def test_a_held_call_taken_by_uuid_bridge_on_a_real_switch(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    esl_watch,  # noqa: F811
    monkeypatch,
):
    """The held caller plays hold audio; another channel (loopback's parked A
    leg) takes it with uuid_bridge; when that leg hangs up, our flow goes on."""
    outcomes, agents = {}, []

    def script(channel):
        if outcomes.get("holding"):
            channel.pause(20000)  # the loopback B leg: stays up while its A leg is the agent
            return
        outcomes["holding"] = channel.info.uuid
        hold = channel.holding()
        hold.start([Silence(500)])
        gevent.spawn(take, channel.info.uuid)
        outcomes["hold"] = hold.wait(20)
        channel.pause(200)
        outcomes["up"] = channel.is_up

    def take(held):
        agent = esl_watch.api(f"originate loopback/{DIALLED} &park", timeout=30).split()[1]
        agents.append(agent)
        gevent.sleep(0.5)
        assert esl_watch.api(f"uuid_bridge {held} {agent}").startswith("+OK")
        gevent.sleep(1.0)
        esl_watch.api(f"uuid_kill {agent}")

    monkeypatch.setitem(base.REGISTRY, "TEST_CAPABILITIES", capability_action(script))
    provision(callback_server.static("/caps", {"actions": [{"type": "TEST_CAPABILITIES"}, {"type": "HANGUP"}]}))
    call = dial()
    finished(call, callback_server, timeout=40)
    outcome = outcomes["hold"]
    assert outcome.reason == "taken" and outcome.taken_by == agents[0], outcome
    assert outcome.talk_seconds >= 0.5 and outcomes["up"]


def test_a_hold_that_times_out_ends_its_audio_on_a_real_switch(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    monkeypatch,
):
    """uuid_break ends the looped hold audio (endless_playback would play on),
    so the flow goes on at once with its next application."""
    outcomes = {}

    def script(channel):
        hold = channel.holding()
        hold.start([Silence(300)])
        outcomes["hold"] = hold.wait(2.0)
        stopped = time.monotonic()
        channel.pause(300)
        outcomes["next_took"] = time.monotonic() - stopped

    monkeypatch.setitem(base.REGISTRY, "TEST_CAPABILITIES", capability_action(script))
    provision(callback_server.static("/caps", {"actions": [{"type": "TEST_CAPABILITIES"}, {"type": "HANGUP"}]}))
    call = dial()
    finished(call, callback_server, timeout=30)
    assert outcomes["hold"].reason == "timeout", outcomes
    assert outcomes["next_took"] < 2.0, outcomes  # not queued behind a hold loop


def test_bridge_busy_then_answered_on_a_real_switch(voxology, callback_server, dial, monkeypatch):  # noqa: F811
    """A busy target leaves our caller on the line; a loopback leg (another call
    into the call server, which answers it) is bridged, then hung up by stop()."""
    outcomes = {}

    def script(channel):
        if outcomes.get("first"):
            channel.pause(20000)  # the dialled leg: up until the bridge's stop hangs it up
            return
        outcomes["first"] = channel.info.uuid
        busy = channel.bridging()
        busy.start(["error/user_busy"], ring_timeout_s=5)
        outcomes["busy"] = busy.wait(10)
        bridge = channel.bridging()
        bridge.start([f"loopback/{DIALLED}"], ring_timeout_s=10)
        outcomes["bridge"] = bridge.wait(3)
        channel.pause(200)
        outcomes["up"] = channel.is_up

    monkeypatch.setitem(base.REGISTRY, "TEST_CAPABILITIES", capability_action(script))
    provision(callback_server.static("/caps", {"actions": [{"type": "TEST_CAPABILITIES"}, {"type": "HANGUP"}]}))
    call = dial()
    finished(call, callback_server, timeout=40)
    busy, bridge = outcomes["busy"], outcomes["bridge"]
    assert (busy.status, busy.cause, busy.sip_code) == ("busy", "USER_BUSY", 486), busy
    assert bridge.status == "completed" and bridge.stopped == "timeout" and bridge.other_uuid, bridge
    assert bridge.talk_seconds > 1 and outcomes["up"]
