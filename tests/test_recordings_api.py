"""The recordings REST API: a RECORD's file by key and by signed URL, ranges, isolation, deletion."""

import os
import time
from urllib.parse import urlsplit

import pytest

from tests.support.provision import DID, setup_number
from tests.support.rest import Client
from tests.support.waiting import wait_until
from voxology_fs import models
from voxology_fs.recordings import UrlSigner


@pytest.fixture
def acme(rig):
    return rig.client()


def record_a_message(rig, client, callback_server, **params):
    """A caller's RECORD on the client's number, ended by #: its entry in the call_ended request."""
    flow = {
        "actions": [
            {"type": "RECORD", "params": {"finish_on_key": "#", "timeout": 60000, **params}},
            {"type": "HANGUP"},
        ]
    }
    setup_number(client, callback_server.static("/rec", flow))
    call = rig.fake.incoming_call(destination=DID)
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    time.sleep(0.05)  # five virtual seconds of the caller's voice
    call.press("#")
    assert call.wait_closed(5)
    ended = lambda: [r["json"] for r in callback_server.requests if (r["json"] or {}).get("type") == "call_ended"]  # noqa: E731
    assert wait_until(ended, 5)
    [entry] = ended()[0]["recordings"]
    return entry


@pytest.fixture
def recorded(rig, acme, callback_server):
    return record_a_message(rig, acme, callback_server, name="voicemail")


def _path_and_query(url):
    parts = urlsplit(url)
    return parts.path, parts.query


def test_the_account_lists_reads_and_fetches_its_recording(acme, recorded, settings):
    listed = acme.get("/Recordings").get_json()
    assert listed["total"] == 1
    [item] = listed["recordings"]
    assert item["id"] == recorded["id"] and item["name"] == "voicemail" and item["status"] == "completed"
    assert item["format"] == "wav" and item["content_type"] == "audio/wav" and item["ended_by"] == "key"
    assert item["duration"] == recorded["duration"] > 0 and item["size"] > 44
    assert acme.get(f"/Recordings?call_id={item['call_id']}").get_json()["total"] == 1
    assert acme.get("/Recordings?call_id=other").get_json()["total"] == 0
    assert acme.get("/Recordings?status=nonsense").get_json()["error"]["field"] == "status"

    audio = acme.get(f"/Recordings/{item['id']}/Audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    with models.database.connection_context():
        key = models.Recording.get_by_id(item["id"]).store_key
    with open(f"{settings.recordings_dir}/{key}", "rb") as fh:
        assert audio.data == fh.read() and audio.data[:4] == b"RIFF"
    # A player seeks with ranges.
    part = acme.get(f"/Recordings/{item['id']}/Audio", headers={"Range": "bytes=44-143"})
    assert part.status_code == 206 and part.data == audio.data[44:144]
    assert part.headers["Content-Range"] == f"bytes 44-143/{len(audio.data)}"
    assert part.headers["Accept-Ranges"] == "bytes"


def test_the_signed_url_needs_no_key_until_it_expires(rig, recorded):
    anonymous = Client(rig.app.test_client(), None)
    path, query = _path_and_query(recorded["url"])
    assert anonymous.c.get(f"{path}?{query}").status_code == 200
    assert anonymous.c.get(path).status_code == 401  # no key, no signature
    tampered = query[:-1] + ("0" if query[-1] != "0" else "1")
    assert anonymous.c.get(f"{path}?{tampered}").get_json()["error"]["code"] == "forbidden"
    # Another recording's signature does not open this one.
    signer = UrlSigner("http://x", 60)
    _, other = _path_and_query(signer.url("another-id"))
    assert anonymous.c.get(f"{path}?{other}").status_code == 403
    expired_signer = UrlSigner("http://x", -10)
    _, expired = _path_and_query(expired_signer.url(recorded["id"]))
    assert anonymous.c.get(f"{path}?{expired}").status_code == 403


def test_another_account_never_sees_or_deletes_it(rig, acme, recorded):
    other = rig.client("globex")
    rid = recorded["id"]
    assert other.get("/Recordings").get_json()["total"] == 0
    assert other.get(f"/Recordings/{rid}").status_code == 404
    assert other.get(f"/Recordings/{rid}/Audio").status_code == 404
    assert other.delete(f"/Recordings/{rid}").status_code == 404
    assert acme.get(f"/Recordings/{rid}").status_code == 200


def test_deleting_removes_the_record_and_the_file(acme, recorded, settings):
    rid = recorded["id"]
    with models.database.connection_context():
        key = models.Recording.get_by_id(rid).store_key
    assert acme.delete(f"/Recordings/{rid}").status_code == 204
    assert acme.get(f"/Recordings/{rid}").status_code == 404
    assert not os.path.exists(f"{settings.recordings_dir}/{key}")


def test_a_recording_in_progress_has_no_audio_yet_and_is_not_deleted(rig, acme, callback_server):
    flow = {"actions": [{"type": "RECORD", "params": {"timeout": 0}}]}
    setup_number(acme, callback_server.static("/rec", flow))
    call = rig.fake.incoming_call(destination=DID)
    assert wait_until(lambda: acme.get("/Recordings").get_json()["total"] == 1, 5)
    [item] = acme.get("/Recordings").get_json()["recordings"]
    assert item["status"] == "in-progress" and item["url"] is None
    assert acme.get(f"/Recordings/{item['id']}/Audio").status_code == 409
    assert acme.delete(f"/Recordings/{item['id']}").status_code == 409
    call.hangup()
    assert wait_until(lambda: acme.get(f"/Recordings/{item['id']}").get_json()["status"] == "completed", 5)


def test_live_control_during_a_record_keeps_the_recording_and_runs_next(rig, acme, callback_server):
    flow = {"actions": [{"type": "RECORD", "params": {"name": "vm", "timeout": 0}}, {"type": "HANGUP"}]}
    setup_number(acme, callback_server.static("/rec", flow))
    after = callback_server.static(
        "/after",
        {"actions": [{"type": "SAY", "params": {"text": "kept ${recordings[0].ended_by}"}}, {"type": "HANGUP"}]},
    )
    call = rig.fake.incoming_call(destination=DID)
    assert wait_until(lambda: any(app == "record" for app, _ in call.executed), 5)
    assert wait_until(lambda: acme.get(f"/Calls/{call.uuid}").get_json()["status"] == "live-in-progress", 5)
    assert acme.post(f"/Calls/{call.uuid}/Redirect", {"url": after}).status_code == 202
    assert call.wait_closed(5)
    assert call.spoken == ["kept stopped"]
    [item] = acme.get("/Recordings").get_json()["recordings"]
    assert item["status"] == "completed" and item["ended_by"] == "stopped" and item["duration"] > 0
