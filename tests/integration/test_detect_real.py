"""DETECT on a real FreeSWITCH: sipp plays greetings of the labelled set as
the caller's audio; the flow hears the verdict."""

import subprocess

import pytest

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.support.amd_set import AMD_DIR, greetings
from tests.support.provision import provision

FLOW = {
    "actions": [
        {"type": "DETECT", "params": {"mode": "detect_message_end"}},
        {"type": "SAY", "params": {"text": "Verdict ${detection}."}},
        {"type": "HANGUP"},
    ]
}


def plain(cls):
    """Two greetings of a class from the test half, none of the hard cases."""
    return [g for g in greetings("test") if g.cls == cls and not g.hard][:2]


@pytest.mark.parametrize("greeting", plain("human") + plain("machine") + plain("unknown"), ids=lambda g: g.file)
def test_the_verdict_on_a_greeting_sipp_plays(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    greeting,
):
    # The set is 8 kHz u-law WAV, what uac_media_speak.xml streams. sipp starts
    # at its ACK, before our socket has the call: a second of silence first, as
    # a person who picks up draws breath, so the greeting is heard whole.
    subprocess.run(
        ["sox", f"{AMD_DIR}/{greeting.file}", str(sipp.workdir / "caller_voice.wav"), "pad", "1", "0"],
        check=True,
        capture_output=True,
    )
    provision(callback_server.static("/d", FLOW))
    call = dial("uac_media_speak.xml")
    call.wait_execute("speak", timeout=40)
    finished(call, callback_server, timeout=20)
    assert call.spoken() == [f"Verdict {greeting.expected}."], greeting
    [ended] = callback_server.of_type("call_ended")
    assert ended["detection"] == greeting.expected
    if greeting.expected == "machine":
        assert ended["detection_detail"].startswith("machine_end_")
