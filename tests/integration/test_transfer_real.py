"""TRANSFER on a real FreeSWITCH: a SIP caller connected through the trunk gateway to a sipp answerer."""

import pytest

from tests.integration.test_callflows import dial, esl_watch, finished, voxology  # noqa: F401  (fixtures)
from tests.support.provision import DID, provision
from voxology_fs import models

FAR = "+13125550100"


def transfer_flow(**params):
    return {
        "actions": [
            {"type": "SAY", "params": {"text": "Connecting you."}},
            {"type": "TRANSFER", "params": {"to": FAR, **params}},
            {"type": "SAY", "params": {"text": "The transfer ended ${transfer.status}."}},
            {"type": "HANGUP"},
        ]
    }


def children(call_id):
    with models.database.connection_context():
        return list(models.Call.select().where(models.Call.parent_call == call_id))


@pytest.mark.parametrize(
    "scenario,status,sip_code",
    [("uas_answer_bye.xml", "completed", 200), ("uas_busy.xml", "busy", 486), ("uas_noanswer.xml", "no-answer", 480)],
    ids=["answered", "busy", "no-answer"],
)
def test_transfer_through_the_trunk(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    scenario,
    status,
    sip_code,
):
    """The caller talks to the far end until it hangs up (or hears nothing
    come of a busy or unanswered dial), then the flow goes on."""
    provision(callback_server.static("/t", transfer_flow(timeout=3)))
    answerer = sipp.start(scenario, uas=True, timeout="30s", duration_ms=2000)
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)

    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == status, ended
    assert call.spoken() == ["Connecting you.", f"The transfer ended {status}."]
    bridge = [data for app, data in call.executed() if app == "bridge"]
    assert len(bridge) == 1 and bridge[0].endswith(f"sofia/gateway/trunk/{FAR}")
    assert f"origination_caller_id_number={DID}" in bridge[0]
    [child] = children(ended["call_id"])
    assert child.status == status and child.to_no == FAR and child.api_no == DID, (child.hangup_cause, ended)
    if status == "completed":
        assert ended["transfer_call_id"] == child.id and ended["transfer_sip_code"] == 200
        # They talked for the answerer's 2 s before it hung up.
        assert 1 <= ended["transfer_duration"] <= 4 and child.hangup_cause == "NORMAL_CLEARING"
    else:
        assert ended["transfer_call_id"] == "" and ended["transfer_sip_code"] == sip_code


def test_a_transfer_before_any_media_leaves_the_answer_to_the_far_end(
    voxology,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    """TRANSFER as the first action: we never answer the caller; the bridge
    does when the far end answers."""
    flow = {"actions": [{"type": "TRANSFER", "params": {"to": FAR, "timeout": 5}}, {"type": "HANGUP"}]}
    provision(callback_server.static("/t", flow))
    answerer = sipp.start("uas_answer_bye.xml", uas=True, timeout="30s", duration_ms=1500)
    call = dial()
    finished(call, callback_server, timeout=40)
    answerer.wait(timeout=30)
    apps = [app for app, _ in call.executed()]
    assert "bridge" in apps and "answer" not in apps, apps
    [ended] = callback_server.of_type("call_ended")
    assert ended["transfer_status"] == "completed" and ended["status"] == "completed"
