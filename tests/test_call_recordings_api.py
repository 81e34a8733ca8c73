"""Recording a live call by REST on the fake switch: start, pause, resume, stop, and the hangup."""

import os

import pytest

from tests.support.provision import DID, setup_number
from tests.support.waiting import wait_until
from voxology_fs import models

LONG_PAUSE = {"actions": [{"type": "PAUSE", "params": {"length": 600000}}]}


@pytest.fixture
def acme(rig):
    return rig.client()


@pytest.fixture
def live(rig, acme, callback_server):
    """A call of acme's, answered and pausing."""
    setup_number(acme, callback_server.static("/p", LONG_PAUSE))
    call = rig.fake.incoming_call(destination=DID)
    assert wait_until(lambda: acme.get(f"/Calls/{call.uuid}").get_json().get("status") == "live-in-progress", 5)
    yield call
    call.hangup()


def uuid_records(rig):
    return [line for line in rig.fake.api_log if line.startswith("uuid_record")]


def test_start_pause_resume_and_stop_a_whole_call_recording(rig, acme, live, settings):
    r = acme.post(f"/Calls/{live.uuid}/Recordings", {})
    assert r.status_code == 201, r.get_json()
    started = r.get_json()
    assert started["status"] == "in-progress" and started["source"] == "call" and started["channels"] == 1
    rid = started["id"]
    with models.database.connection_context():
        key = models.Recording.get_by_id(rid).store_key
    path = f"{settings.recordings_dir}/{key}"
    assert uuid_records(rig) == [f"uuid_record {live.uuid} start {os.path.abspath(path)}"]
    assert acme.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "paused"}).get_json()["status"] == "paused"
    assert acme.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "in-progress"}).get_json()["status"] == (
        "in-progress"
    )
    stopped = acme.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "stopped"}).get_json()
    assert stopped["status"] == "completed" and stopped["ended_by"] == "stopped" and stopped["url"]
    assert [line.split(" ")[2] for line in uuid_records(rig)] == ["start", "pause", "resume", "stop"]
    assert acme.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "paused"}).status_code == 409
    assert [x["id"] for x in acme.get(f"/Calls/{live.uuid}/Recordings").get_json()["recordings"]] == [rid]
    assert acme.get(f"/Recordings/{rid}/Audio").status_code == 200
    # The call's flow never noticed: it still pauses.
    assert live.executed[-1][0] == "sleep" and not live.down


def test_a_dual_recording_asks_for_one_party_per_channel(rig, acme, live):
    r = acme.post(f"/Calls/{live.uuid}/Recordings", {"channels": "dual"})
    assert r.status_code == 201 and r.get_json()["channels"] == 2
    [line] = uuid_records(rig)
    assert line.endswith(" 0 {RECORD_STEREO=true}")


def test_the_hangup_ends_it_and_the_watcher_completes_it(rig, acme, live, callback_server):
    status = callback_server.static("/status", {})
    rid = acme.post(f"/Calls/{live.uuid}/Recordings", {"recording_status_url": status}).get_json()["id"]
    live.hangup()
    assert wait_until(lambda: acme.get(f"/Recordings/{rid}").get_json()["status"] == "completed", 5)
    assert acme.get(f"/Recordings/{rid}").get_json()["ended_by"] == "hangup"
    told = lambda: [r["json"] for r in callback_server.requests if (r["json"] or {}).get("type") == "recording_status"]  # noqa: E731
    assert wait_until(told, 5)
    assert told()[0]["recording"]["id"] == rid and told()[0]["call_id"] == live.uuid
    # An ended call is not recorded again.
    assert wait_until(lambda: acme.post(f"/Calls/{live.uuid}/Recordings", {}).status_code == 409, 5)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channels": "stereo"}, "channels"),
        ({"recording_status_url": "ftp://x"}, "recording_status_url"),
        ({"format": "mp3"}, "format"),
    ],
)
def test_a_bad_body_names_its_field(acme, live, body, field):
    r = acme.post(f"/Calls/{live.uuid}/Recordings", body)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field


def test_another_account_cannot_record_or_touch_the_call(rig, acme, live):
    rid = acme.post(f"/Calls/{live.uuid}/Recordings", {}).get_json()["id"]
    other = rig.client("globex")
    assert other.post(f"/Calls/{live.uuid}/Recordings", {}).status_code == 404
    assert other.get(f"/Calls/{live.uuid}/Recordings").status_code == 404
    assert other.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "stopped"}).status_code == 404
    assert acme.post(f"/Calls/{live.uuid}/Recordings/{rid}", {"status": "bogus"}).get_json()["error"]["field"] == (
        "status"
    )
    assert acme.post(f"/Calls/{live.uuid}/Recordings/nosuch", {"status": "stopped"}).status_code == 404
    assert len(uuid_records(rig)) == 1


@pytest.mark.parametrize("record,stereo", [(True, False), ("dual", True)])
def test_make_call_with_record_records_it_from_the_answer(rig, acme, callback_server, record, stereo):
    hello = {"actions": [{"type": "SAY", "params": {"text": "Hello."}}, {"type": "HANGUP"}]}
    setup_number(acme, callback_server.static("/hello", hello))
    r = acme.post("/Dials/Connect", {"call": {"no": "+13125550100", "caller_id_no": DID}, "record": record})
    assert r.status_code == 201, r.get_json()
    call_id = r.get_json()["call_id"]
    assert wait_until(
        lambda: [x for x in callback_server.requests if (x["json"] or {}).get("type") == "call_ended"], 10
    )
    originate = next(c for c in rig.fake.api_log if c.startswith("originate"))
    assert f"vox_record={'dual' if stereo else 'mono'}" in originate
    call = rig.fake.calls[call_id]
    [started] = [arg for app, arg in call.executed if app == "record_session"]
    assert started.endswith(" {RECORD_STEREO=true}") == stereo
    apps = [app for app, _ in call.executed]
    assert apps.index("record_session") < apps.index("speak")  # from the start, before the flow's first words
    [ended] = [x["json"] for x in callback_server.requests if (x["json"] or {}).get("type") == "call_ended"]
    [entry] = ended["recordings"]
    assert entry["status"] == "completed" and entry["ended_by"] == "hangup" and entry["name"] == "call"
    assert acme.get(f"/Recordings/{entry['id']}").get_json()["channels"] == (2 if stereo else 1)


def test_make_call_record_must_be_true_false_or_dual(acme):
    r = acme.post("/Dials/Connect", {"call": {"no": "+13125550100", "caller_id_no": DID}, "record": "yes"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "record"
