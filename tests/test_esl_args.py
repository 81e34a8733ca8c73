"""Arguments arrive in FreeSWITCH exactly as meant, under its own splitting rules.

``split`` re-implements switch_separate_string's documented behaviour
(quotes group, backslash escapes, delimiter splits) to check our escaping.
"""

import pytest

from tests.fakefs.expand import separate_string
from voxology_fs.channel import AudioFile, Silence, Speech
from voxology_fs.esl import args

HOSTILE = [
    "plain",
    "it's",
    'say "hi"',
    "a!b!c",
    "back\\slash",
    "pipe | here",
    "${system touch /tmp/x}",
    "two  spaces",
    "trailing \\",
    "'quoted'",
    "tab\tand\\n",
    "@@5000",
    "ünïcödé ☎",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_prompt_list_survives_playback_delimiter_split(text):
    prompts = [Speech(text), AudioFile("/cache/a.wav"), Silence(5)]
    parts = separate_string(args.prompt_list(prompts), "!", 128)
    expected = "say:" + " ".join(text.split()).replace("@@", "@ @")
    assert parts == [expected, "/cache/a.wav", "silence_stream://5"]


@pytest.mark.parametrize("text", HOSTILE)
def test_play_and_get_digits_keeps_the_prompt_one_argument(text):
    arg = args.play_and_get_digits_arg(
        [Speech(text), Speech("second")],
        max_digits=3,
        finish_keys="#",
        timeout_ms=5000,
        digit_timeout_ms=3000,
        variable="v",
    )
    fields = separate_string(arg, " ", 11)
    assert fields[:5] == ["1", "3", "1", "5000", "#"] and fields[6:] == [
        "silence_stream://1",
        "v",
        "^[0-9*#A-Da-d]+$",
        "3000",
    ]
    prompts = separate_string(fields[5], "!", 128)
    assert prompts == ["say:" + " ".join(text.split()).replace("@@", "@ @"), "say:second"]


def test_no_finish_key():
    arg = args.play_and_get_digits_arg(
        [], max_digits=1, finish_keys="", timeout_ms=1000, digit_timeout_ms=1000, variable="v"
    )
    assert separate_string(arg, " ", 11)[4] == "none"


def test_set_values_must_be_tokens():
    assert args.set_arg("tts_voice", "kal") == "tts_voice=kal"
    for bad in ("${system id}", "a b", "x|y", ""):
        with pytest.raises(ValueError):
            args.set_arg("tts_voice", bad)


def test_dtmf_digits_only():
    assert args.dtmf_arg("12w#") == "12w#"
    with pytest.raises(ValueError):
        args.dtmf_arg("1;2")
