"""Completed recordings moved to an S3-compatible bucket (moto's S3 server, run here on loopback)."""

import os

import pytest

from tests.support.rig import Rig
from tests.support.s3 import KEYS, free_port
from tests.test_recordings_api import record_a_message
from voxology_fs import models, operator
from voxology_fs.s3store import ArchiveError, S3Archive

INVENTORY = "number,capabilities,country\n+17145551212,voice;sms,US\n"


@pytest.fixture
def s3rig(db, settings, s3_endpoint, bucket):
    operator.import_numbers(INVENTORY)
    _, name = bucket
    changes = {"recordings_s3_bucket": name, "recordings_s3_endpoint_url": s3_endpoint, "recordings_s3_prefix": "vox"}
    rig = Rig(settings.replace(**changes, **KEYS))
    yield rig
    rig.close()


def record(rig, callback_server):
    acme = rig.client()
    return acme, record_a_message(rig, acme, callback_server)


def test_a_completed_recording_moves_to_the_bucket_and_is_served_from_it(s3rig, bucket, callback_server, settings):
    client, name = bucket
    acme, entry = record(s3rig, callback_server)
    doc = acme.get(f"/Recordings/{entry['id']}").get_json()
    assert doc["status"] == "completed" and doc["stored_in"] == "s3" and doc["error"] is None
    with models.database.connection_context():
        key = models.Recording.get_by_id(entry["id"]).store_key
    # In the bucket under the prefix, gone from the folder.
    stored = client.get_object(Bucket=name, Key=f"vox/{key}")
    data = stored["Body"].read()
    assert stored["ContentType"] == "audio/wav" and data[:4] == b"RIFF" and len(data) == doc["size"]
    assert not os.path.exists(f"{settings.recordings_dir}/{key}")

    audio = acme.get(f"/Recordings/{entry['id']}/Audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav" and audio.data == data
    part = acme.get(f"/Recordings/{entry['id']}/Audio", headers={"Range": "bytes=44-143"})
    assert part.status_code == 206 and part.data == data[44:144]
    assert part.headers["Content-Range"] == f"bytes 44-143/{len(data)}"
    outside = acme.get(f"/Recordings/{entry['id']}/Audio", headers={"Range": f"bytes={len(data) + 10}-"})
    assert outside.status_code == 416 and outside.get_json()["error"]["field"] == "Range"
    # The signed URL in the callback opens it too, without a key.
    path, _, query = entry["url"].partition("/v1/")[2].partition("?")
    assert s3rig.app.test_client().get(f"/v1/{path}?{query}").data == data
    # Another account sees nothing of it.
    assert s3rig.client("globex").get(f"/Recordings/{entry['id']}/Audio").status_code == 404

    assert acme.delete(f"/Recordings/{entry['id']}").status_code == 204
    assert client.list_objects_v2(Bucket=name).get("KeyCount") == 0


def test_an_unreachable_bucket_keeps_the_recording_in_the_folder(db, settings, callback_server):
    operator.import_numbers(INVENTORY)
    dead = f"http://127.0.0.1:{free_port()}"
    rig = Rig(settings.replace(recordings_s3_bucket="nowhere", recordings_s3_endpoint_url=dead, **KEYS))
    try:
        acme, entry = record(rig, callback_server)
        doc = acme.get(f"/Recordings/{entry['id']}").get_json()
        # Not lost: completed, in the folder, served from there, the reason kept.
        assert doc["status"] == "completed" and doc["stored_in"] == "local"
        assert "could not be reached" in doc["error"]
        audio = acme.get(f"/Recordings/{entry['id']}/Audio")
        assert audio.status_code == 200 and audio.data[:4] == b"RIFF"
    finally:
        rig.close()


def test_archive_errors_say_what_failed(s3_endpoint, tmp_path):
    archive = S3Archive("no-such-bucket", endpoint_url=s3_endpoint, access_key="test", secret_key="test")
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF")
    with pytest.raises(ArchiveError, match="upload: the object store answered NoSuchBucket"):
        archive.put("a/b.wav", str(path), "audio/wav")
