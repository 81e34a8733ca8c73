"""RECORD on a real FreeSWITCH into an S3-compatible bucket: the switch writes
the file, the call server uploads it once complete, REST serves it from there."""

import time

import pytest

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.integration.test_record_real import VOICE_HZ, caller_voice, fetch_audio, loud_part, record_flow
from tests.support.provision import provision
from tests.support.s3 import KEYS
from voxology_fs import models


@pytest.fixture
def settings(settings, s3_endpoint, bucket):
    """The call server's and the REST API's: recordings go to the bucket."""
    _client, name = bucket
    return settings.replace(recordings_s3_bucket=name, recordings_s3_endpoint_url=s3_endpoint, **KEYS)


def test_a_recording_moves_to_the_bucket_and_rest_serves_it_from_there(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    settings,
    bucket,
):
    client, name = bucket
    caller_voice(sipp.workdir, 2.0)
    provision(callback_server.static("/r", record_flow(finish_on_key="#", timeout=0)))
    call = dial("uac_media_speak.xml")
    call.wait_execute("record", timeout=20)
    time.sleep(3.0)
    call.press("#")
    call.wait_execute("speak", data_contains="Ended by key.", timeout=10)
    finished(call, callback_server)

    [entry] = callback_server.of_type("call_ended")[0]["recordings"]
    with models.database.connection_context():
        record = models.Recording.get_by_id(entry["id"])
    assert record.stored_in == "s3" and record.error is None
    stored = client.get_object(Bucket=name, Key=record.store_key)["Body"].read()
    assert len(stored) == record.size_bytes
    _rest, audio = fetch_audio(settings, entry["id"])
    assert audio.status_code == 200 and audio.data == stored
    loud_s, hz, _total = loud_part(audio.data)
    assert abs(hz - VOICE_HZ) < 30 and 1.4 < loud_s <= 2.05, (hz, loud_s)
