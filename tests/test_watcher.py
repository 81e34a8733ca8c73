"""The switch watchers: the switch's own figures on legs and calls, and one
action per event however many REST workers watch the switch."""

import datetime as dt

import gevent
import pytest

from tests.support.provision import DID, FAR, HELLO, INVENTORY, call_record, setup_number
from tests.support.rig import Rig, of_type
from tests.support.transcripts import TRANSCRIPTS, split_transcript
from tests.support.waiting import wait_until
from voxology_fs import claims, models, operator
from voxology_fs.esl.protocol import Parser, message_to_event
from voxology_fs.esl.times import switch_time
from voxology_fs.settings import Switch
from voxology_fs.switches import Switches
from voxology_fs.timeutil import parse_iso
from voxology_fs.watcher import LegEnd

EPOCH = dt.datetime(1970, 1, 1)


def recorded_events(name, event_name):
    raw = b"".join(m for d, m in split_transcript(open(f"{TRANSCRIPTS}/{name}", "rb").read()) if d == "<")
    events = [message_to_event(m) for m in Parser().feed(raw) if m.content_type == "text/event-plain"]
    return [e for e in events if e.name == event_name]


def test_switch_times_are_microseconds_since_the_epoch():
    assert switch_time("1795700376282095") == EPOCH + dt.timedelta(microseconds=1795700376282095)
    assert switch_time("0") is None and switch_time(None) is None and switch_time("x") is None


def test_leg_end_of_recorded_hangups():
    """The figures as real FreeSWITCH writes them in CHANNEL_HANGUP_COMPLETE."""
    inbound = next(
        e
        for e in recorded_events("basic_media.inbound.log", "CHANNEL_HANGUP_COMPLETE")
        if e.get("Call-Direction") == "inbound"
    )
    end = LegEnd.from_event(inbound)
    assert end.channel_uuid == "dd46cb1f-8bed-44d6-944e-780ad1996f82"
    assert end.answered_at == EPOCH + dt.timedelta(microseconds=1795700376282095)
    assert end.ended_at == EPOCH + dt.timedelta(microseconds=1795700379202105)
    assert end.bridged_at is None and end.cause == "NORMAL_CLEARING" and end.sip_code is None
    assert end.ringing_at is None  # this call was answered without ringing first

    refused = recorded_events("sip_reject.inbound.log", "CHANNEL_HANGUP_COMPLETE")
    assert [
        (LegEnd.from_event(e).cause, LegEnd.from_event(e).sip_code, LegEnd.from_event(e).answered_at) for e in refused
    ] == [("USER_BUSY", 486, None), ("CALL_REJECTED", 603, None)]

    rang = recorded_events("originate_outbound.inbound.log", "CHANNEL_HANGUP_COMPLETE")
    progress = [e.get("Caller-Channel-Progress-Time") for e in rang]
    assert [LegEnd.from_event(e).ringing_at for e in rang] == [switch_time(p) for p in progress]
    assert any(p != "0" for p in progress)

    bridged = [LegEnd.from_event(e) for e in recorded_events("bridge.inbound.log", "CHANNEL_HANGUP_COMPLETE")]
    assert any(end.bridged_at == EPOCH + dt.timedelta(microseconds=1795700402242105) for end in bridged)


@pytest.fixture
def two_workers(db, settings):
    """One switch, one call server, and two REST workers' links and watchers."""
    operator.import_numbers(INVENTORY)
    rig = Rig(settings)
    second = Switches(rig.settings, sweep_interval=0).start()
    assert second.wait_connected(5)
    for switches in (rig.switches, second):
        switches.watcher.hangup_grace = 0.2
    yield rig, second
    second.stop()
    rig.close()


def test_two_watchers_of_one_switch_end_an_unconnected_call_once(two_workers, callback_server):
    rig, second = two_workers
    # The switch hands the answered call to a port where nothing listens.
    link = rig.switches.link("fs1")
    link.switch = Switch(**{**link.switch.__dict__, "socket_address": "127.0.0.1:9"})
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    gevent.sleep(0.5)  # room for a second call_ended, were there one
    [ended] = of_type(callback_server, "call_ended")
    assert ended["call_id"] == call_id and ended["status"] == "failed"

    watchers = (rig.switches.watcher, second.watcher)
    assert watchers[0].seen == watchers[1].seen >= 1  # both saw the hangup
    assert sum(w.claimed for w in watchers) == watchers[0].seen  # and each event was acted on once
    with models.database.connection_context():
        # The sweeps claim keys of their own (sweeps.py) whenever their round comes: not events.
        claims = [c.key for c in models.Claim.select() if not c.key.startswith(("prune:", "sweep:"))]
    assert len(claims) == watchers[0].seen, claims

    # The record and the leg carry the switch's own figures.
    fake_call = rig.fake.calls[call_id]
    hangup = EPOCH + dt.timedelta(microseconds=fake_call.times["hangup"])
    call = call_record(call_id)
    assert call.end_time == hangup
    assert call.duration_ms == int((hangup - call.start_time).total_seconds() * 1000)
    with models.database.connection_context():
        [leg] = models.Leg.select().where(models.Leg.call == call_id)
    assert leg.ended_at == hangup and leg.hangup_cause == fake_call.hangup_cause
    assert leg.answered_at == EPOCH + dt.timedelta(microseconds=fake_call.times["answered"])


def test_two_watchers_end_a_busy_call_once(two_workers, callback_server):
    rig, second = two_workers
    acme = rig.client()
    setup_number(acme, callback_server.static("/hello", HELLO))
    rig.fake.originate_policy = lambda d, v: ("busy",)
    call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    gevent.sleep(0.5)
    [ended] = of_type(callback_server, "call_ended")
    assert ended["call_id"] == call_id and ended["status"] == "busy"
    assert call_record(call_id).hangup_cause == "USER_BUSY"
    watchers = (rig.switches.watcher, second.watcher)
    assert watchers[0].seen == watchers[1].seen >= 1
    assert sum(w.claimed for w in watchers) == watchers[0].seen


def test_a_completed_call_gets_the_switch_answer_and_end_times(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    rig = Rig(settings)
    try:
        rig.switches.watcher.hangup_grace = 0.1
        acme = rig.client()
        setup_number(acme, callback_server.static("/hello", HELLO))
        call_id = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": DID}}).get_json()["call_id"]
        assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
        fake_call = rig.fake.calls[call_id]
        hangup = EPOCH + dt.timedelta(microseconds=fake_call.times["hangup"])
        answered = EPOCH + dt.timedelta(microseconds=fake_call.times["answered"])
        assert wait_until(lambda: call_record(call_id).end_time == hangup, 5)
        call = call_record(call_id)
        assert call.status == "completed" and call.answer_time == answered
        assert call.duration_ms == int((hangup - call.start_time).total_seconds() * 1000)
        [ended] = of_type(callback_server, "call_ended")
        assert ended["status"] == "completed"
        # The callback already carries the switch's hangup time (CHANNEL_HANGUP's
        # moment), within milliseconds of the record's.
        assert abs(parse_iso(ended["end_time"]) - hangup) < dt.timedelta(milliseconds=50), (ended, hangup)
        doc = acme.get(f"/Calls/{call_id}").get_json()
        assert doc["duration"] == call.duration_ms
        assert doc["talk_time"] == int((hangup - answered).total_seconds() * 1000)
    finally:
        rig.close()


def test_a_claim_is_taken_once(db):
    assert claims.claim("core-1:42") is True
    assert claims.claim("core-1:42") is False
    assert claims.claim("core-1:43") is True
    with models.database.connection_context():
        models.Claim.update(claimed_at=dt.datetime(2000, 1, 1)).where(models.Claim.key == "core-1:42").execute()
    assert claims.prune() == 1
    assert claims.claim("core-1:42") is True  # forgotten, so it can be taken again
