"""Call flows end to end on a real FreeSWITCH.

sipp places real SIP calls into FreeSWITCH (our freeswitch/ configuration),
which hands them to our call server running in this process; the flows come
from a local callback server. Each test checks:

* the callbacks the customer's server received (types, fields, order);
* what FreeSWITCH executed, as an inbound ESL listener sees it
  (CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE / DTMF / hangup events);
* the call record in the database;
* what the caller heard: the scenarios offer the test's own RTP port
  (``uac_media_*.xml``, ``m=audio [rtp_port]``), and the PCMU audio
  FreeSWITCH sends there is decoded and measured (see media.py).

Keys are pressed with ``uuid_recv_dtmf`` over inbound ESL (as if the caller
had pressed them: they reach the channel's DTMF queue) or as SIP INFO from
sipp.
"""

import itertools
import json
import os
import re
import shutil
import time
from pathlib import Path

import gevent
import pytest

from tests.support.audio import ulaw_decode
from tests.support.media import EslWatcher, RtpReceiver, tone_wav, try_mp3
from tests.support.provision import DID, provision
from tests.support.waiting import wait_until
from voxology_fs import models, store
from voxology_fs.callserver import CallServer
from voxology_fs.flow.actions.conference import conference_room

EXAMPLES = Path(__file__).resolve().parents[2] / "voxology_fs" / "examples"
DIALLED = "17145551212"  # what sipp puts in the Request-URI; normalises to DID
# Speech from flite and a 440 Hz tone both have 20 ms frames with an RMS in
# the thousands; PCMU silence decodes to 0.
LOUD = 300
_callers = itertools.count(1001)


def example(name):
    return json.loads((EXAMPLES / f"{name}.json").read_text())


# ----------------------------------------------------------------- fixtures


@pytest.fixture
def esl_watch(freeswitch):
    watcher = EslWatcher("127.0.0.1", freeswitch.esl_port, freeswitch.password)
    yield watcher
    watcher.close()


@pytest.fixture
def voxology(db, settings, freeswitch, call_server_port, request):
    """Our call server on the socket FreeSWITCH hands calls to."""
    settings = settings.replace(outbound_port=call_server_port)
    marker = request.node.get_closest_marker("callback_timeout")
    if marker is not None:
        settings = settings.replace(callback_timeout=marker.args[0])
    marker = request.node.get_closest_marker("voxology_settings")
    if marker is not None:
        settings = settings.replace(**marker.kwargs)
    server = CallServer(settings)
    server.start()
    yield server
    # StreamServer.stop() does not wait for the calls' greenlets: let them end
    # (a lingering one would write to the next test's database).
    deadline = time.monotonic() + 5
    while server.stats.active and time.monotonic() < deadline:
        gevent.sleep(0.01)
    server.stop()
    assert server.stats.active == 0 and server.stats.failed == 0, vars(server.stats)


class Call:
    """One sipp call and the caller's RTP port."""

    def __init__(self, sipp_run, rtp, caller, watcher):
        self.sipp = sipp_run
        self.rtp = rtp
        self.caller = caller  # as sipp sends it
        self.caller_no = "+" + caller  # as callbacks report it
        self.watcher = watcher
        self.started = time.monotonic()
        self._uuid = None

    @property
    def uuid(self):
        """FreeSWITCH's channel uuid (our call_id): the first event from this caller."""
        if self._uuid is None:
            self._uuid = self.watcher.wait_channel(self.caller)
        return self._uuid

    def press(self, digits):
        """The caller presses keys (queued on the channel as received DTMF)."""
        reply = self.watcher.api(f"uuid_recv_dtmf {self.uuid} {digits}")
        assert reply.startswith("+OK"), reply
        return time.monotonic()

    def executed(self):
        return self.watcher.executed(self.uuid)

    def spoken(self):
        """Texts of the ``speak`` applications FreeSWITCH ran."""
        return [data.split("|", 2)[2] for app, data in self.executed() if app == "speak"]

    def wait_execute(self, app, **kwargs):
        return self.watcher.wait_execute(self.uuid, app, **kwargs)

    def result(self, timeout=30):
        """sipp's result, once FreeSWITCH has also finished with the channel."""
        result = self.sipp.wait(timeout)
        self.watcher.wait_hangup(self.uuid)
        self.rtp.close()
        return result


@pytest.fixture
def dial(sipp, freeswitch, esl_watch):
    """``dial(scenario=..., keys={...}, duration_ms=...)`` places a call to DID."""
    receivers = []

    def place(scenario="uac_media_wait_bye.xml", service=DIALLED, keys=None, **kwargs):
        caller = f"1949555{next(_callers):04d}"
        rtp = RtpReceiver(avoid=(freeswitch.state["rtp_start"], freeswitch.state["rtp_end"]))
        receivers.append(rtp)
        extra = ["-key", "rtp_port", str(rtp.port)]
        for key, value in (keys or {}).items():
            extra += ["-key", key, str(value)]
        run = sipp.start(scenario, service=service, caller=caller, extra=extra, **kwargs)
        return Call(run, rtp, caller, esl_watch)

    yield place
    for rtp in receivers:
        rtp.close()


# ----------------------------------------------------------------- helpers


def callback_types(callback_server):
    return [r["json"]["type"] for r in callback_server.requests if r["json"]]


def finished(call, callback_server, timeout=30):
    """sipp ended well and call_ended arrived; returns the sipp result."""
    result = call.result(timeout)
    assert result.returncode == 0, f"{result!r}\n{call.watcher.describe(call.uuid)}"
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5), (
        f"{callback_types(callback_server)}\n{call.watcher.describe(call.uuid)}"
    )
    return result


def heard_during(call, start_event, end_event, slack=0.3):
    """Loud ms the caller received while an application ran."""
    return call.rtp.loud_ms(LOUD, since=start_event.at, until=end_event.at + slack)


def tone_frequency(call):
    """Frequency of the loud part of what the caller heard, from zero crossings."""
    samples = [s for p in call.rtp.audio() if p.rms > LOUD for s in ulaw_decode(p.payload)]
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 8000)


def pagd_args(event):
    """The arguments of a play_and_get_digits CHANNEL_EXECUTE(_COMPLETE), by name."""
    head, _, rest = event.get("Application-Data").partition(" '")
    quoted, _, tail = rest.rpartition("' ")
    args = dict(zip(["min", "max", "tries", "timeout", "terminators"], head.split(), strict=False))
    args.update(zip(["invalid_file", "variable", "regexp", "digit_timeout"], tail.split(), strict=False))
    args["quoted_file"] = quoted
    # switch_separate_string's unescaping inside quotes
    args["file"] = re.sub(r"\\(.)", r"\1", quoted)
    return args


def split_prompts(file_arg, delimiter="!"):
    """The prompts of a ``playback_delimiter`` list, unescaped as FreeSWITCH does."""
    prompts, current, chars = [], [], iter(file_arg)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == delimiter:
            prompts.append("".join(current))
            current = []
        else:
            current.append(ch)
    return [*prompts, "".join(current)]


def collected(done):
    """The digits play_and_get_digits stored, in the variable its arguments name."""
    return done.variable(pagd_args(done)["variable"])


def assert_init_call(init, call, app):
    assert init["type"] == "init_call"
    assert init["call_id"] == call.uuid and init["app_id"] == app.id and init["subaccount_id"] == "0"
    assert init["direction"] == "inbound" and init["status"] == "live-in-progress"
    assert init["caller_no"] == call.caller_no and init["api_no"] == DID
    assert init["api_no_region"] == "CA" and init["api_no_country"] == "US"
    assert init["end_time"] is None and init["key_presses"] == []


COLLECT_PROMPT = "say:Hello world. Welcome to conditional processing. Please press one on your telephone keypad."
PRESSED_1 = "You pressed 1. Thank you for following instructions."
NOT_1 = "You did not press 1, and did not follow instructions."


# ----------------------------------------------------------------- 1. hello world


def test_hello_world(voxology, callback_server, dial):
    _account, app = provision(callback_server.static("/hello", example("hello-world")))
    call = dial()
    finished(call, callback_server)

    assert call.executed() == [
        ("ring_ready", ""),
        ("answer", ""),
        ("speak", "flite|kal|Hello, world."),
        ("hangup", "NORMAL_CLEARING"),
    ]
    speak = call.watcher.completed(call.uuid, "speak")[0]
    start = call.wait_execute("speak")
    assert heard_during(call, start, speak) >= 400, call.rtp.summary()
    assert call.rtp.loud_ms(LOUD) >= 400 and call.rtp.peak_rms() > 1000, call.rtp.summary()

    assert callback_types(callback_server) == ["init_call", "call_ended"]
    assert_init_call(callback_server.of_type("init_call")[0], call, app)
    ended = callback_server.of_type("call_ended")[0]
    assert ended["call_id"] == call.uuid and ended["status"] == "completed"
    assert ended["hangup_cause"] == "NORMAL_CLEARING" and ended["end_time"] and ended["duration"] > 0

    record = store.load_call(call.uuid)
    assert record.status == "completed" and record.channel_uuid == call.uuid
    assert record.answer_time and record.end_time and record.duration_ms > 0
    assert record.hangup_cause == "NORMAL_CLEARING" and record.api_no == DID and record.caller_no == call.caller_no
    voxology.trace_writer.flush()
    with models.database.connection_context():
        kinds = [e.kind for e in models.CallEvent.select().where(models.CallEvent.call == call.uuid)]
    assert {"callback", "action", "say", "hangup"} <= set(kinds), kinds


def test_number_without_flow_gets_404(voxology, callback_server, dial):
    call = dial("uac_expect_reject.xml", service="17145550000")
    result = call.result()
    assert result.returncode == 0 and result.final_code == 404, result
    assert callback_server.requests == []
    assert ("respond", "404") in call.executed() and ("answer", "") not in call.executed()
    assert call.rtp.packets == []


# ----------------------------------------------------------------- 2. multi-action


def test_multi_action_goto_skips_the_middle_say(voxology, callback_server, dial):
    flow = example("Example-MultiActionProcessing")
    skipped = flow["actions"][2]["params"]["text"]
    provision(callback_server.static("/multi", flow))
    call = dial()
    finished(call, callback_server)

    assert [app for app, _ in call.executed()] == ["ring_ready", "answer", "speak", "speak", "hangup"]
    assert call.spoken() == [flow["actions"][0]["params"]["text"], "You successfully navigated to a labeled action."]
    assert all(skipped not in data for _, data in call.executed())
    starts = call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "speak")
    ends = call.watcher.completed(call.uuid, "speak")
    for start, end in zip(starts, ends, strict=False):
        assert heard_during(call, start, end) >= 500, call.rtp.summary()
    assert callback_types(callback_server) == ["init_call", "call_ended"]
    assert store.load_call(call.uuid).status == "completed"


# ----------------------------------------------------------------- 3. conditional


def test_conditional_processing(voxology, callback_server, dial):
    """The seed's conditional flow, three callers at once: one presses 1 once
    the COLLECT has started, one presses 2, one presses nothing."""
    provision(callback_server.static("/cond", example("Example-ConditionalProcessing")))
    calls = {press: dial() for press in ("1", "2", None)}
    collects = {}

    def caller(press, call):
        collects[press] = call.wait_execute("play_and_get_digits")
        if press:
            call.press(press)

    gevent.joinall([gevent.spawn(caller, p, c) for p, c in calls.items()], raise_error=True)
    for call in calls.values():
        finished(call, callback_server)
    assert callback_server.wait_for(lambda: len(callback_server.of_type("call_ended")) == 3, timeout=5)

    for press, call in calls.items():
        expected = PRESSED_1 if press == "1" else NOT_1
        collect = collects[press]
        args = pagd_args(collect)
        assert (args["min"], args["max"], args["tries"], args["timeout"], args["terminators"]) == (
            "1",
            "1",
            "1",
            "5000",
            "#",
        )
        assert args["file"] == COLLECT_PROMPT and args["invalid_file"] == "silence_stream://1"
        assert args["regexp"] == "^[0-9*#A-Da-d]+$" and args["digit_timeout"] == "5000"
        apps = call.executed()
        assert [a for a, _ in apps] == [
            "ring_ready",
            "answer",
            "flush_dtmf",
            "play_and_get_digits",
            "speak",
            "hangup",
        ], (press, apps)
        assert call.spoken() == [expected]
        done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
        assert collected(done) == press
        assert [e.get("DTMF-Digit") for e in call.watcher.of(call.uuid, "DTMF")] == ([press] if press else [])
        if press:
            assert done.at - collect.at < 2.0  # the key ended the 6 s prompt at once
        else:
            # The whole prompt was heard, then 5 s of waiting.
            assert heard_during(call, collect, done) >= 3000, call.rtp.summary()
            assert done.at - collect.at > 5.0
        speak = call.watcher.completed(call.uuid, "speak")[0]
        assert heard_during(call, call.wait_execute("speak"), speak) >= 1000, call.rtp.summary()

        mine = [r["json"] for r in callback_server.requests if r["json"]["call_id"] == call.uuid]
        assert [b["type"] for b in mine] == ["init_call", "call_ended"]
        assert mine[0]["caller_no"] == call.caller_no
        assert mine[1]["key_presses"] == [{"name": "rating", "digits": press or ""}]
        record = store.load_call(call.uuid)
        assert record.key_presses == [{"name": "rating", "digits": press or ""}] and record.status == "completed"


def test_conditional_processing_sip_info_dtmf(voxology, callback_server, dial):
    """The key as SIP INFO (uac_dtmf.xml sends 1, 2, 3 half a second after
    the ACK, then hangs up after -d): the 1 ends the COLLECT, 2 and 3 fall on
    the following SAY, which does not stop for them; the caller hangs up
    during it."""
    provision(callback_server.static("/cond", example("Example-ConditionalProcessing")))
    call = dial("uac_dtmf.xml", duration_ms=1500)
    finished(call, callback_server)

    assert [e.get("DTMF-Digit") for e in call.watcher.of(call.uuid, "DTMF")] == ["1", "2", "3"]
    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "1"
    assert call.spoken() == [PRESSED_1]
    speak_done = call.watcher.completed(call.uuid, "speak")[0]
    dtmf3 = call.watcher.of(call.uuid, "DTMF")[2]
    hangup = call.watcher.wait_hangup(call.uuid)
    assert speak_done.at >= dtmf3.at + 1.0  # the SAY went on after the keys, until the caller left
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert ("hangup", "NORMAL_CLEARING") not in call.executed()
    ended = callback_server.of_type("call_ended")
    assert len(ended) == 1 and ended[0]["key_presses"] == [{"name": "rating", "digits": "1"}]


# ----------------------------------------------------------------- 4. variables


def test_variable_processing_press_1_then_pound(voxology, callback_server, dial):
    flow = example("Example-VariableProcessing")
    provision(callback_server.static("/var", flow))
    call = dial()
    call.wait_execute("play_and_get_digits")
    call.press("1")
    # The caller then presses # as the prompt asked, while the answer is read out.
    call.wait_execute("speak")
    gevent.sleep(0.3)
    pound_at = call.press("#")
    finished(call, callback_server)

    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "1"
    assert call.spoken() == ["You pressed 1, or you are over 21.", "We hope you enjoyed variable processing. Good bye."]
    # The stray # did not cut the SAY it fell on short.
    first = call.watcher.completed(call.uuid, "speak")[0]
    assert first.at - pound_at > 0.5
    assert [e.get("DTMF-Digit") for e in call.watcher.of(call.uuid, "DTMF")] == ["1", "#"]
    ended = callback_server.of_type("call_ended")[0]
    assert ended["session_data"] == {"gender": "male", "age": 19, "isNice": True}
    assert ended["key_presses"] == [{"name": "rating", "digits": "1"}]
    assert store.load_call(call.uuid).session_data == {"gender": "male", "age": 19, "isNice": True}


# ----------------------------------------------------------------- 5. COLLECT

LONG_PROMPT = (
    "Please enter your four digit code, followed by the pound key. If you do not know your code, "
    "please stay on the line and an agent will be with you shortly."
)


def collect_flow(prompt=LONG_PROMPT, before=(), then_say=True, **params):
    """A COLLECT named "code" with a SAY prompt, then (``then_say``) SAY "Got <digits>.", then HANGUP."""
    actions = list(before)
    actions.append(
        {"type": "COLLECT", "name": "code", "params": params, "actions": [{"type": "SAY", "params": {"text": prompt}}]}
    )
    if then_say:
        actions.append({"type": "SAY", "params": {"text": "Got ${keyPresses}."}})
    actions.append({"type": "HANGUP"})
    return {"actions": actions}


def test_collect_barge_in_stops_the_prompt_and_counts(voxology, callback_server, dial):
    provision(callback_server.static("/c", collect_flow(num_digits=2, finish_on_key="#", timeout=3000)))
    call = dial()
    collect = call.wait_execute("play_and_get_digits")
    gevent.sleep(1.2)
    first_at = call.press("4")
    gevent.sleep(0.6)
    call.press("2")
    finished(call, callback_server)

    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "42"
    # Prompt heard until the key, then silence while the caller types.
    assert call.rtp.loud_ms(LOUD, since=collect.at, until=first_at) >= 500, call.rtp.summary()
    assert call.rtp.loud_ms(LOUD, since=first_at + 0.3, until=done.at) <= 60, call.rtp.summary()
    assert done.at - collect.at < 4.0  # far less than the prompt's length
    assert call.spoken() == ["Got 42."]
    assert callback_server.of_type("call_ended")[0]["key_presses"] == [{"name": "code", "digits": "42"}]


def test_collect_timeout(voxology, callback_server, dial):
    provision(
        callback_server.static("/c", collect_flow("Enter your code.", then_say=False, num_digits=4, timeout=1000))
    )
    call = dial()
    collect = call.wait_execute("play_and_get_digits")
    finished(call, callback_server)

    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) is None
    assert heard_during(call, collect, done) >= 500
    assert 1.0 < done.at - collect.at < 5.0  # the prompt, then one second
    assert call.executed()[-1] == ("hangup", "NORMAL_CLEARING")
    assert callback_server.of_type("call_ended")[0]["key_presses"] == [{"name": "code", "digits": ""}]


def test_collect_finish_key(voxology, callback_server, dial):
    provision(
        callback_server.static("/c", collect_flow("Enter your code.", num_digits=6, finish_on_key="#", timeout=5000))
    )
    call = dial()
    collect = call.wait_execute("play_and_get_digits")
    assert collect.get("Application-Data").startswith("1 6 1 5000 # ")
    call.press("12#")
    finished(call, callback_server)

    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "12"
    assert done.variable("read_terminator_used") == "#"
    assert done.at - collect.at < 2.0
    assert call.spoken() == ["Got 12."]
    assert callback_server.of_type("call_ended")[0]["key_presses"] == [{"name": "code", "digits": "12"}]


@pytest.mark.parametrize(
    "before,app",
    [
        ({"type": "SAY", "params": {"text": "Welcome."}}, "speak"),
        ({"type": "PAUSE", "params": {"length": 800}}, "sleep"),
    ],
    ids=["during-say", "during-pause"],
)
def test_collect_drops_keys_pressed_before_it(voxology, callback_server, dial, before, app):
    """A key pressed before a COLLECT starts is not type-ahead. During a SAY
    the speak application reads the key and drops it (playback_terminators
    is none); during a PAUSE sleep_eat_digits drops it (test_key_does_not_cut_a_pause)
    and anything left is dropped by flush_dtmf, sent right before
    play_and_get_digits, discards it."""
    provision(
        callback_server.static(
            "/c",
            collect_flow(
                "Enter.",
                before=[{"type": "SAY", "params": {"text": "Hi."}}, before],
                then_say=False,
                num_digits=1,
                timeout=1000,
            ),
        )
    )
    call = dial()
    call.wait_execute(app, data_contains=before["params"].get("text", "800"))
    pressed = call.press("5")
    finished(call, callback_server)

    dtmf = call.watcher.of(call.uuid, "DTMF")
    assert [e.get("DTMF-Digit") for e in dtmf] == ["5"] and dtmf[0].at >= pressed - 0.05
    assert dtmf[0].at < call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "flush_dtmf")[0].at
    apps = [a for a, _ in call.executed()]
    assert apps[:6] == ["ring_ready", "answer", "speak", app, "flush_dtmf", "play_and_get_digits"]
    assert collected(call.watcher.completed(call.uuid, "play_and_get_digits")[0]) is None
    assert callback_server.of_type("call_ended")[0]["key_presses"] == [{"name": "code", "digits": ""}]


@pytest.mark.callback_timeout(6.0)
def test_collect_drops_a_key_pressed_during_a_slow_callback(voxology, callback_server, dial):
    """A key pressed while the flow waits 3 s for its next actions (no
    application runs, so nothing reads it until the next one starts) is not
    taken by the COLLECT those actions begin with."""

    def slow(request):
        gevent.sleep(3.0)
        return collect_flow("Enter.", then_say=False, num_digits=1, timeout=1000)

    slow_url = callback_server.route("/slow", slow)
    flow = {"actions": [{"type": "SAY", "params": {"text": "Hi."}}, {"type": "REDIRECT", "params": {"url": slow_url}}]}
    provision(callback_server.static("/c", flow))
    call = dial()
    assert callback_server.wait_for(lambda: any(r["path"] == "/slow" for r in callback_server.requests), 15)
    gevent.sleep(1.0)
    pressed = call.press("5")
    finished(call, callback_server, timeout=20)

    dtmf = call.watcher.of(call.uuid, "DTMF")
    assert [e.get("DTMF-Digit") for e in dtmf] == ["5"] and dtmf[0].at >= pressed - 0.05
    collect = call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "play_and_get_digits")[0]
    assert dtmf[0].at < collect.at  # pressed during the wait, before the COLLECT began
    assert collected(call.watcher.completed(call.uuid, "play_and_get_digits")[0]) is None
    assert callback_server.of_type("call_ended")[0]["key_presses"] == [{"name": "code", "digits": ""}]


def test_key_does_not_cut_a_pause(voxology, callback_server, dial):
    """A key pressed during a PAUSE outside any COLLECT: the PAUSE lasts its length."""
    provision(
        callback_server.static(
            "/p",
            {
                "actions": [
                    {"type": "SAY", "params": {"text": "Hi."}},
                    {"type": "PAUSE", "params": {"length": 2000}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = dial()
    sleep = call.wait_execute("sleep")
    gevent.sleep(0.3)
    call.press("5")
    woke = call.wait_execute("sleep", complete=True)
    try:
        assert woke.at - sleep.at >= 1.9, "the PAUSE ended %.2f s after it began" % (woke.at - sleep.at)
    finally:
        finished(call, callback_server)
        assert call.executed()[-2:] == [("sleep", "2000"), ("hangup", "NORMAL_CLEARING")]


def test_collect_prompt_list_with_quotes_and_delimiters(voxology, callback_server, dial, tmp_path):
    """Three prompts in one play_and_get_digits (SAY, PLAY, SAY, joined with
    playback_delimiter "!" inside the quoted file argument), the text holding
    ', ", \\ and !: FreeSWITCH plays the three in order and reads the text
    whole (as long as the same text read by ``speak`` afterwards)."""
    body = tone_wav(tmp_path / "tone.wav").read_bytes()
    audio_url = callback_server.route("/tone.wav", lambda r: (200, body))
    text = 'It\'s "A"! B\\C.'
    provision(
        callback_server.static(
            "/q",
            {
                "actions": [
                    {
                        "type": "COLLECT",
                        "name": "q",
                        "params": {"num_digits": 1, "timeout": 1000},
                        "actions": [
                            {"type": "SAY", "params": {"text": text}},
                            {"type": "PLAY", "params": {"url": audio_url}},
                            {"type": "SAY", "params": {"text": "Two!"}},
                        ],
                    },
                    {"type": "SAY", "params": {"text": text}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = dial()
    uuid = call.uuid
    stop = call.watcher.wait_for(
        lambda e: (
            e.name == "PLAYBACK_STOP"
            and e.get("Unique-ID") == uuid
            and e.get("Playback-File-Path", "").endswith(".wav")
        ),
        15,
        "the wav's end",
        uuid,
    )
    # Once "Two!" is heard, a key ends the COLLECT (no need to wait for its timeout).
    assert wait_until(lambda: call.rtp.loud_ms(LOUD, since=stop.at + 0.2) >= 100), call.rtp.summary()
    call.press("1")
    finished(call, callback_server)

    collect = call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "play_and_get_digits")[0]
    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "1"
    files = [e for e in call.watcher.of(call.uuid) if e.name in ("PLAYBACK_START", "PLAYBACK_STOP")]
    wav = [e for e in files if e.get("Playback-File-Path", "").endswith(".wav")]
    assert [e.name for e in wav] == ["PLAYBACK_START", "PLAYBACK_STOP"], files
    assert Path(wav[0].get("Playback-File-Path")).read_bytes() == body
    assert split_prompts(pagd_args(collect)["file"]) == ["say:" + text, wav[0].get("Playback-File-Path"), "say:Two!"]
    said = call.rtp.loud_ms(LOUD, since=collect.at, until=wav[0].at)
    tone = call.rtp.loud_ms(LOUD, since=wav[0].at, until=wav[1].at + 0.2)
    two = call.rtp.loud_ms(LOUD, since=wav[1].at + 0.2, until=done.at)
    assert tone >= 800 and two >= 100, call.rtp.summary()
    speak = call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "speak")[0]
    assert speak.get("Application-Data") == "flite|kal|" + text
    reference = heard_during(call, speak, call.watcher.completed(call.uuid, "speak")[0])
    assert reference >= 700 and abs(said - reference) <= 0.25 * reference, (said, reference)
    assert not store.load_call(call.uuid).errors


# ----------------------------------------------------------------- 6. REJECT


@pytest.mark.parametrize("reason,code,status", [("busy", 486, "busy"), ("rejected", 603, "rejected")])
def test_reject(voxology, callback_server, dial, reason, code, status):
    provision(callback_server.static("/r", {"actions": [{"type": "REJECT", "params": {"reason": reason}}]}))
    call = dial("uac_expect_reject.xml")
    result = call.result()
    assert result.returncode == 0 and result.final_code == code, result
    assert callback_server.wait_for(lambda: callback_server.of_type("call_ended"), timeout=5)

    apps = call.executed()
    assert ("respond", str(code)) in apps and ("answer", "") not in apps
    assert call.rtp.packets == []
    assert callback_types(callback_server) == ["init_call", "call_ended"]
    ended = callback_server.of_type("call_ended")[0]
    assert ended["status"] == status
    record = store.load_call(call.uuid)
    assert record.status == status and record.answer_time is None and record.end_time


# ----------------------------------------------------------------- 7. caller hangs up


@pytest.mark.parametrize(
    "action,app,data",
    [
        ({"type": "PAUSE", "params": {"length": 60000}}, "sleep", "60000"),
        ({"type": "SAY", "params": {"text": LONG_PROMPT}}, "speak", "flite|kal|" + LONG_PROMPT),
    ],
    ids=["pause", "say"],
)
def test_caller_hangs_up_mid_prompt(voxology, callback_server, dial, action, app, data):
    """uac_media_hangup.xml hangs up 1.5 s after the answer, during a 60 s
    PAUSE or a long SAY: the flow stops there and call_ended goes out once."""
    provision(
        callback_server.static(
            "/long",
            {
                "actions": [
                    {"type": "SAY", "params": {"text": "Hi."}},
                    action,
                    {"type": "SAY", "params": {"text": "never heard"}},
                ]
            },
        )
    )
    call = dial("uac_media_hangup.xml", duration_ms=1500)
    started = call.wait_execute(app, data_contains=data)
    finished(call, callback_server)
    gevent.sleep(0.5)  # room for a second call_ended, which must not come

    assert callback_types(callback_server) == ["init_call", "call_ended"]
    ended = callback_server.of_type("call_ended")[0]
    assert ended["hangup_cause"] == "NORMAL_CLEARING" and ended["status"] == "completed"
    hangup = call.watcher.wait_hangup(call.uuid)
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert hangup.get("variable_sip_hangup_disposition") == "recv_bye"
    apps = call.executed()
    assert apps[-1] == (app, data) and "never heard" not in call.spoken()
    assert ("hangup", "NORMAL_CLEARING") not in apps
    interrupted = call.watcher.completed(call.uuid, app)[-1]
    assert interrupted.get("Application-Data") == data
    assert interrupted.at - started.at < 5.0  # ended by the hangup, not run to its end (8 s, 60 s)
    first = call.watcher.completed(call.uuid, "speak")[0]
    assert heard_during(call, call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "speak")[0], first) >= 200
    if app == "speak":
        assert heard_during(call, started, hangup) >= 300, call.rtp.summary()
    record = store.load_call(call.uuid)
    assert record.status == "completed" and record.hangup_cause == "NORMAL_CLEARING" and record.end_time


def test_caller_gives_up_before_the_answer(voxology, callback_server, dial):
    """The caller CANCELs while init_call is still being answered: nothing is
    answered or spoken afterwards, and the call ends as canceled."""

    def slow(request):
        if request["json"]["type"] == "init_call":
            gevent.sleep(1.5)
        return {"actions": [{"type": "SAY", "params": {"text": "Too late."}}, {"type": "HANGUP"}]}

    provision(callback_server.route("/slow", slow))
    call = dial("uac_media_cancel.xml", duration_ms=300)
    finished(call, callback_server)

    assert call.executed() == [("ring_ready", "")]
    assert call.watcher.wait_hangup(call.uuid).get("Hangup-Cause") == "ORIGINATOR_CANCEL"
    assert call.rtp.packets == []
    assert callback_types(callback_server) == ["init_call", "call_ended"]
    ended = callback_server.of_type("call_ended")[0]
    assert ended["status"] == "canceled" and ended["hangup_cause"] == "ORIGINATOR_CANCEL"
    record = store.load_call(call.uuid)
    assert record.status == "canceled" and record.answer_time is None and record.end_time


# ----------------------------------------------------------------- 8. security


@pytest.fixture
def marker_dir():
    # A short path: flite reads it out.
    path = Path(f"/tmp/vx{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_say_text_is_never_expanded(voxology, callback_server, dial, marker_dir):
    """Caller-visible text with FreeSWITCH syntax, as a COLLECT prompt
    (``say:`` inside play_and_get_digits) and as a SAY (``speak``):
    FreeSWITCH gets it literally, speaks it, and runs nothing. (The caller
    hangs up during the SAY: flite takes six seconds to read it all.)"""
    prompt = f"${{system touch {marker_dir}/a}} ${{uuid}}"
    text = f"${{system touch {marker_dir}/b}} ${{uuid}}"
    provision(
        callback_server.static(
            "/evil",
            {
                "actions": [
                    {
                        "type": "COLLECT",
                        "params": {"num_digits": 1, "timeout": 1000},
                        "actions": [{"type": "SAY", "params": {"text": prompt}}],
                    },
                    {"type": "SAY", "params": {"text": text}},
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    call = dial("uac_media_hangup.xml", duration_ms=4000)
    collect = call.wait_execute("play_and_get_digits")
    assert split_prompts(pagd_args(collect)["file"]) == ["say:" + prompt]
    gevent.sleep(1.5)  # let part of the prompt be heard
    call.press("1")
    speak = call.wait_execute("speak")
    assert speak.get("Application-Data") == "flite|kal|" + text
    finished(call, callback_server)

    done = call.watcher.completed(call.uuid, "play_and_get_digits")[0]
    assert collected(done) == "1"
    assert heard_during(call, collect, done) >= 400, call.rtp.summary()  # the say: prompt was read out
    assert call.spoken() == [text]
    assert all(call.uuid not in data for _, data in call.executed())
    spoken = call.watcher.completed(call.uuid, "speak")[0]
    assert spoken.get("Application-Data") == "flite|kal|" + text
    assert heard_during(call, speak, spoken) >= 1000, call.rtp.summary()
    assert callback_types(callback_server) == ["init_call", "call_ended"]
    gevent.sleep(0.2)
    assert list(marker_dir.iterdir()) == []


# ----------------------------------------------------------------- 9. PLAY


def _play_file(callback_server, dial, settings, path):
    """PLAY of the file at ``path``, served by the callback server."""
    body = path.read_bytes()
    audio_url = callback_server.route("/audio/" + path.name, lambda r: (200, body))
    provision(
        callback_server.static(
            "/play", {"actions": [{"type": "PLAY", "params": {"url": audio_url}}, {"type": "HANGUP"}]}
        )
    )
    call = dial()
    finished(call, callback_server)

    apps = call.executed()
    assert [a for a, _ in apps] == ["ring_ready", "answer", "playback", "hangup"]
    played = Path(apps[2][1])
    cache = Path(settings.audio_cache_dir).resolve()
    assert cache in played.parents and played.suffix == path.suffix and played.read_bytes() == body
    start = call.watcher.of(call.uuid, "CHANNEL_EXECUTE", "playback")[0]
    done = call.watcher.completed(call.uuid, "playback")[0]
    assert done.get("Application-Response") == "FILE PLAYED" and int(done.variable("playback_ms")) >= 900
    assert heard_during(call, start, done) >= 800, call.rtp.summary()
    assert 400 < tone_frequency(call) < 480
    assert [r["path"] for r in callback_server.requests].count("/audio/" + path.name) == 1
    assert not store.load_call(call.uuid).errors


def test_play_wav(voxology, callback_server, dial, settings, tmp_path):
    _play_file(callback_server, dial, settings, tone_wav(tmp_path / "tone.wav"))


def test_play_mp3(voxology, callback_server, dial, settings, tmp_path):
    path, why = try_mp3(tmp_path / "tone.mp3")
    if path is None:
        pytest.skip(why)
    _play_file(callback_server, dial, settings, path)


# ----------------------------------------------------------------- 10. REDIRECT


def test_redirect_flow_keeps_state_in_session_data(voxology, callback_server, dial):
    def ivr(request):
        body = request["json"]
        step = (body.get("session_data") or {}).get("step")
        if body["type"] == "call_ended":
            return None
        if step is None:
            return {
                "actions": [
                    {"type": "SESSIONDATA", "session_data": {"step": "menu", "visits": 1}},
                    {
                        "type": "COLLECT",
                        "name": "menu",
                        "params": {"num_digits": 1, "timeout": 3000},
                        "actions": [{"type": "SAY", "params": {"text": "For sales press 3."}}],
                    },
                    {"type": "REDIRECT", "params": {"url": url}},
                ]
            }
        if step == "menu":
            choice = body["key_presses"][0]["digits"]
            return {
                "actions": [
                    {"type": "SESSIONDATA", "session_data": {"step": "done", "choice": choice, "visits": 2}},
                    {"type": "SAY", "params": {"text": f"You chose {choice}."}},
                    {"type": "REDIRECT", "params": {"url": url}},
                ]
            }
        return {"actions": [{"type": "SAY", "params": {"text": "Goodbye."}}, {"type": "HANGUP"}]}

    url = callback_server.route("/ivr", ivr)
    provision(url)
    call = dial()
    call.wait_execute("play_and_get_digits")
    call.press("3")
    finished(call, callback_server)

    bodies = [r["json"] for r in callback_server.requests]
    assert [b["type"] for b in bodies] == ["init_call", "continue_call", "continue_call", "call_ended"]
    assert all(r["path"] == "/ivr" for r in callback_server.requests)
    assert bodies[1]["session_data"] == {"step": "menu", "visits": 1}
    assert bodies[1]["key_presses"] == [{"name": "menu", "digits": "3"}]
    assert bodies[2]["session_data"] == {"step": "done", "choice": "3", "visits": 2}
    assert bodies[3]["session_data"] == {"step": "done", "choice": "3", "visits": 2}
    assert len({b["call_id"] for b in bodies}) == 1
    assert call.spoken() == ["You chose 3.", "Goodbye."]
    assert call.executed()[-1] == ("hangup", "NORMAL_CLEARING")
    record = store.load_call(call.uuid)
    assert record.session_data == {"step": "done", "choice": "3", "visits": 2}
    assert record.key_presses == [{"name": "menu", "digits": "3"}]


# ----------------------------------------------------------------- uuid_recv_dtmf on loopback calls


def test_loopback_originate_keys_reach_the_b_leg_only(voxology, callback_server, esl_watch):
    """``originate loopback/NUMBER &park`` returns the uuid of loopback's A leg
    (parked); the call server runs on the B leg, another channel.
    ``uuid_recv_dtmf`` on the A leg queues the key on the A leg only (mod_loopback
    does not carry *received* DTMF across), so the COLLECT on the B leg times
    out with empty digits. The key must go to the B leg (the call_id in
    init_call), or be *sent* out of the A leg (``uuid_send_dtmf``), which
    loopback delivers to the B leg. The three ways run at once."""
    provision(
        callback_server.static(
            "/c",
            {
                "actions": [
                    {"type": "SAY", "params": {"text": "Welcome."}},
                    {
                        "type": "COLLECT",
                        "name": "k",
                        "params": {"num_digits": 1, "timeout": 1000},
                        "actions": [{"type": "SAY", "params": {"text": "Press a key."}}],
                    },
                    {"type": "HANGUP"},
                ]
            },
        )
    )
    legs = {}

    def press(how):
        a_leg = esl_watch.api(f"originate loopback/{DIALLED} &park", timeout=30).split()[1]
        b_leg = esl_watch.wait_for(
            lambda e: e.get("variable_other_loopback_leg_uuid") == a_leg and e.get("variable_loopback_leg") == "B"
        ).get("Unique-ID")
        legs[how] = (a_leg, b_leg)
        esl_watch.wait_execute(b_leg, "play_and_get_digits")
        command = {
            "recv_a": f"uuid_recv_dtmf {a_leg} 1",
            "recv_b": f"uuid_recv_dtmf {b_leg} 1",
            "send_a": f"uuid_send_dtmf {a_leg} 1",
        }[how]
        assert esl_watch.api(command).startswith("+OK")
        esl_watch.wait_hangup(b_leg)

    gevent.joinall([gevent.spawn(press, how) for how in ("recv_a", "recv_b", "send_a")], raise_error=True)
    assert callback_server.wait_for(lambda: len(callback_server.of_type("call_ended")) == 3, timeout=5)
    ended = {e["call_id"]: e for e in callback_server.of_type("call_ended")}
    digits = {how: ended[b_leg]["key_presses"][0]["digits"] for how, (a_leg, b_leg) in legs.items()}
    assert digits == {"recv_a": "", "recv_b": "1", "send_a": "1"}
    a_leg, b_leg = legs["recv_a"]
    assert a_leg != b_leg
    assert [e.get("DTMF-Digit") for e in esl_watch.of(a_leg, "DTMF")] == ["1"]  # the key stayed on the A leg
    assert esl_watch.of(b_leg, "DTMF") == []


# ----------------------------------------------------------------- the conference greeting


def test_conference_greeting(voxology, callback_server, dial, freeswitch):
    """The product's conference script: a SAY with session data, the caller in a
    real conference room (ours, per account), and the flow going on after it."""
    flow = example("conference-greeting")
    flow["actions"].insert(0, {"type": "SESSIONDATA", "session_data": {"firstName": "Ann"}})
    flow["actions"].append({"type": "HANGUP"})  # a static script would otherwise come back for more
    account, _ = provision(callback_server.static("/conf", flow))
    call = dial()
    joined = call.wait_execute("conference", timeout=20)
    room = joined.get("Application-Data").split("@")[0]
    assert room == conference_room(str(account.id), "myConference")
    gevent.sleep(0.5)
    assert (
        "1 member" in freeswitch.esl(f"conference {room} list count")
        or freeswitch.esl(f"conference {room} list").count(";") > 0
    )
    freeswitch.esl(f"conference {room} kick all")
    finished(call, callback_server)
    spoken = [data.split("|", 2)[2] for app, data in call.executed() if app == "speak"]
    assert spoken[0] == "Hello, Ann. Welcome to our conference."
    assert spoken[1].startswith("You have left the conference. This call lasted ")
    assert heard_during(call, call.wait_execute("speak"), call.watcher.completed(call.uuid, "speak")[0]) >= 400
