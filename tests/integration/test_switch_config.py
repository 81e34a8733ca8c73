"""Our freeswitch/ configuration on a real FreeSWITCH: it starts, loads the
modules we need, cannot run shell commands, and hands every call to the
call server's outbound socket."""

import threading
import uuid

import pytest

MODULES = [
    "mod_console",
    "mod_logfile",
    "mod_event_socket",
    "mod_sofia",
    "mod_loopback",
    "mod_commands",
    "mod_dptools",
    "mod_dialplan_xml",
    "mod_expr",
    "mod_hash",
    "mod_db",
    "mod_conference",
    "mod_fifo",
    "mod_spandsp",
    "mod_avmd",
    "mod_sms",
    "mod_flite",
    "mod_tone_stream",
    "mod_sndfile",
    "mod_native_file",
    "mod_local_stream",
    "mod_shout",
    "mod_say_en",
    "mod_opus",
]


# ----------------------------------------------------------------- the switch


def test_starts_and_answers_esl(freeswitch):
    assert "is ready" in freeswitch.esl("status")


def test_wrong_esl_password_is_refused(freeswitch, run_freeswitch):
    with pytest.raises(run_freeswitch.ESLError):
        run_freeswitch.esl_api("127.0.0.1", freeswitch.esl_port, "not-the-password", "status")


def test_modules_loaded(freeswitch):
    missing = [m for m in MODULES if freeswitch.esl(f"module_exists {m}").strip() != "true"]
    assert not missing, f"not loaded: {missing}\n{freeswitch.log_tail()}"


def test_core_codecs(freeswitch):
    codecs = freeswitch.esl("show codec")
    for name in ("G.711 ulaw", "G.711 alaw", "OPUS"):
        assert name in codecs


@pytest.mark.parametrize(
    "cmd", ["system echo hi", "bg_system echo hi", "spawn echo hi", "bg_spawn echo hi", "spawn_stream echo hi"]
)
def test_system_api_commands_refused(freeswitch, cmd):
    out = freeswitch.esl(cmd)
    assert out.startswith("-ERR") and "Command not found" in out, out


def test_system_applications_absent(freeswitch):
    rows = [line.split(",") for line in freeswitch.esl("show application").splitlines()]
    # mod_sms has a chatplan-only "system" (we have no chatplan); the
    # dialplan ones live in mod_dptools.
    dptools = {r[0] for r in rows if len(r) >= 4 and r[-1] == "mod_dptools"}
    assert "answer" in dptools
    assert not dptools & {"system", "bgsystem"}


def test_api_expansion_off(freeswitch):
    assert "api_expansion is off" in freeswitch.esl("fsctl api_expansion")
    out = freeswitch.esl("eval ${md5 hello}")
    assert "permission denied" in out.lower(), out


def test_sessions_per_second_and_max(freeswitch):
    assert freeswitch.esl("fsctl sps").strip() == "+OK sessions per second: 1000"
    status = freeswitch.esl("status")
    assert "out of max 1000" in status
    assert "5000 session(s) max" in status


def test_sip_profile(freeswitch):
    listing = freeswitch.esl("sofia status")
    line = next(entry for entry in listing.splitlines() if entry.split()[:1] == ["voxology"])
    assert "RUNNING" in line and f"127.0.0.1:{freeswitch.sip_port}" in line
    detail = freeswitch.esl("sofia status profile voxology")
    fields = dict(line.split("\t", 1) for line in detail.splitlines() if "\t" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["Context"] == "voxology"
    assert fields["Dialplan"] == "XML"
    assert fields["SIP-IP"] == fields["RTP-IP"] == "127.0.0.1"
    assert fields["Auto-NAT"] == "false"
    assert fields["CODECS IN"] == "PCMU,PCMA,OPUS"


def test_trunk_gateway_template(freeswitch):
    out = freeswitch.esl("sofia status gateway trunk")
    fields = {k.strip(): v.strip() for k, v in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)}
    assert fields["State"] == "NOREG"
    assert fields["Proxy"] == f"sip:127.0.0.1:{freeswitch.trunk_port}"


def test_vars_come_from_environment(freeswitch, call_server_port):
    assert freeswitch.esl("global_getvar voxology_socket").strip() == f"127.0.0.1:{call_server_port}"
    assert freeswitch.esl("global_getvar voxology_sip_port").strip() == str(freeswitch.sip_port)
    assert freeswitch.esl("global_getvar disable_system_api_commands").strip() == "true"
    recordings = freeswitch.esl("global_getvar voxology_recordings_dir").strip()
    assert recordings == str(freeswitch.run_dir / "recordings")


# ----------------------------------------------------------------- inbound calls


def _reject(session, code=486):
    session.sendmsg("respond", str(code))


def test_inbound_call_goes_to_outbound_socket(freeswitch, call_server, sipp):
    run = sipp.start("uac_expect_reject.xml", service="15551230001", caller="15557650001")
    session = call_server.accept()
    data = session.connect()
    assert data.get("Reply-Text", "").startswith("+OK")
    assert data["variable_app_disable_expand_variables"] == "true"
    assert data["Caller-Destination-Number"] == "15551230001"
    assert data["Caller-Caller-ID-Number"] == "15557650001"
    assert data["Caller-Context"] == "voxology"
    assert data["Answer-State"] != "answered"  # the dialplan did not answer
    session.myevents()
    _reject(session, 486)
    result = run.wait()
    assert result.returncode == 0, result
    assert result.final_code == 486, result


def test_set_does_not_run_shell(freeswitch, call_server, sipp, tmp_path):
    marker = tmp_path / "pwned"
    run = sipp.start("uac_expect_reject.xml")
    session = call_server.accept()
    data = session.connect()
    session.myevents()
    text = f"voxology_probe=${{system touch {marker}}} ${{uuid}}"
    event_uuid = str(uuid.uuid4())
    session.sendmsg("set", text, event_uuid=event_uuid)
    done = session.wait_event("CHANNEL_EXECUTE_COMPLETE", Application="set", **{"Application-UUID": event_uuid})
    # app_disable_expand_variables: the data reaches the app unexpanded.
    assert done["Application-Data"] == text
    assert not marker.exists()
    # NB: the set application expands its value by itself; with api-expansion
    # off the API part becomes a refusal, but channel variables (${uuid}) and
    # globals are substituted. Do not pass caller text through `set`.
    value = done["variable_voxology_probe"]
    assert "Permission Denied" in value and data["Unique-ID"] in value
    # uuid_setvar (inbound ESL) stores the text as it is.
    call_uuid = data["Unique-ID"]
    literal = f"${{system touch {marker}}} ${{uuid}} $${{voxology_socket}}"
    assert freeswitch.esl(f"uuid_setvar {call_uuid} voxology_literal {literal}").startswith("+OK")
    assert freeswitch.esl(f"uuid_getvar {call_uuid} voxology_literal") == literal
    _reject(session, 486)
    result = run.wait()
    assert result.final_code == 486, result
    assert not marker.exists()


def test_system_app_cannot_be_executed(freeswitch, call_server, sipp, tmp_path):
    marker = tmp_path / "pwned"
    run = sipp.start("uac_expect_reject.xml")
    session = call_server.accept()
    session.connect()
    session.myevents()
    session.sendmsg("system", f"touch {marker}")
    result = run.wait()
    # An unknown application hangs the call up (DESTINATION_OUT_OF_ORDER).
    assert result.final_code == 502, result
    assert not marker.exists()


def test_no_call_server_means_503(freeswitch, sipp):
    result = sipp.run("uac_expect_reject.xml")
    assert result.returncode == 0, result
    assert result.final_code == 503, result


def test_answered_call_with_dtmf(freeswitch, call_server, sipp):
    run = sipp.start("uac_dtmf.xml", duration_ms=500)
    session = call_server.accept()
    session.connect()
    session.myevents()
    session.command("linger")  # or the socket may close before CHANNEL_HANGUP is written (seen on 1.11.1)
    session.sendmsg("answer")
    session.wait_event("CHANNEL_ANSWER")
    digits = [session.wait_event("DTMF", **{"DTMF-Digit": d})["DTMF-Digit"] for d in "123"]
    assert digits == ["1", "2", "3"]
    hangup = session.wait_event("CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "NORMAL_CLEARING"
    result = run.wait()
    assert result.returncode == 0, result


def test_answered_call_caller_hangs_up(freeswitch, call_server, sipp):
    run = sipp.start("uac_basic.xml", duration_ms=300)
    session = call_server.accept()
    session.connect()
    session.myevents()
    # Without linger FreeSWITCH may close the socket before the queued
    # CHANNEL_HANGUP is written (seen about once in ten runs); with it, the
    # event always comes first, as it does for the call server.
    session.command("linger")
    session.sendmsg("answer")
    session.wait_event("CHANNEL_ANSWER")
    session.wait_event("CHANNEL_HANGUP")
    result = run.wait()
    assert result.returncode == 0, result


def test_loopback_calls_use_default_context(freeswitch, call_server):
    out = {}
    worker = threading.Thread(
        target=lambda: out.setdefault("r", freeswitch.esl("originate loopback/4321 &park", timeout=30))
    )
    worker.start()
    session = call_server.accept()
    data = session.connect()
    assert data["Caller-Destination-Number"] == "4321"
    assert data["Caller-Context"] == "default"
    assert data["variable_app_disable_expand_variables"] == "true"
    session.sendmsg("hangup", "CALL_REJECTED")
    worker.join(30)
    assert out["r"].startswith("-ERR"), out


# ----------------------------------------------------------------- the trunk gateway


def test_outbound_trunk_busy(freeswitch, sipp):
    run = sipp.start("uas_busy.xml", uas=True)
    out = freeswitch.esl("originate sofia/gateway/trunk/15550001 &park", timeout=30)
    assert out.strip() == "-ERR USER_BUSY"
    assert run.wait().returncode == 0


def test_outbound_trunk_answer(freeswitch, sipp):
    run = sipp.start("uas_answer.xml", uas=True)
    out = freeswitch.esl("originate sofia/gateway/trunk/15550002 &park", timeout=30)
    assert out.startswith("+OK "), out
    call_uuid = out.split()[1]
    assert freeswitch.esl(f"uuid_getvar {call_uuid} sip_to_user").strip() == "15550002"
    freeswitch.esl(f"uuid_kill {call_uuid}")
    result = run.wait()
    assert result.returncode == 0, result


def test_outbound_trunk_no_answer(freeswitch, sipp):
    run = sipp.start("uas_noanswer.xml", uas=True)
    out = freeswitch.esl("originate {originate_timeout=2}sofia/gateway/trunk/15550003 &park", timeout=30)
    assert out.strip() == "-ERR NO_ANSWER"
    result = run.wait()
    assert result.returncode == 0, result
