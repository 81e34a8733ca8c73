"""DIAL on a real FreeSWITCH: a SIP caller's flow places a call out through
the trunk gateway to a sipp answerer; that call runs its own flow."""

import pytest

from tests.integration.test_callflows import dial, esl_watch  # noqa: F401  (fixtures)
from tests.integration.test_make_call import configure, trunk_platform, wait_until  # noqa: F401
from tests.support.provision import DID
from voxology_fs import models

FAR = "+13125550100"


def children(call_id):
    with models.database.connection_context():
        return list(models.Call.select().where(models.Call.parent_call == call_id))


def ended_of(callback_server, call_id):
    return [e for e in callback_server.of_type("call_ended") if e["call_id"] == call_id]


def flows(callback_server, parent, child):
    def answer(request):
        body = request["json"] or {}
        if body.get("direction") != "outbound":
            return parent
        return child if body.get("type") == "init_call" else {"actions": []}

    return callback_server.route("/flow", answer)


def parent_flow(**params):
    return {
        "actions": [
            {"type": "SAY", "params": {"text": "Placing your call."}},
            {"type": "DIAL", "params": {"to": FAR, **params}},
            {"type": "SAY", "params": {"text": "The call ended ${dial.status} ${dial.connected}."}},
            {"type": "HANGUP"},
        ]
    }


def test_dial_with_connect_joins_the_caller_to_the_new_call_after_its_own_flow(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
):
    """The new call hears its own announcement, then joins the caller (who
    heard ringing); when the far end hangs up, the caller's flow goes on."""
    child = {"actions": [{"type": "SAY", "params": {"text": "You have a caller waiting."}}]}
    configure(trunk_platform, DID, flows(callback_server, parent_flow(connect=True, timeout=10), child))
    answerer = sipp.start("uas_answer_bye.xml", uas=True, timeout="40s", duration_ms=6000)
    call = dial()
    result = call.result(timeout=60)
    assert result.returncode == 0, f"{result!r}\n{call.watcher.describe(call.uuid)}"
    answerer.wait(timeout=30)
    assert wait_until(lambda: len(callback_server.of_type("call_ended")) == 2, 15), callback_server.requests
    [placed] = children(call.uuid)
    assert call.spoken() == ["Placing your call.", "The call ended completed true."], call.executed()
    placed_apps = call.watcher.executed(placed.id)
    assert ("speak", "flite|kal|You have a caller waiting.") in placed_apps, placed_apps
    [parent_end] = ended_of(callback_server, call.uuid)
    [child_end] = ended_of(callback_server, placed.id)
    assert parent_end["dial_call_id"] == placed.id and parent_end["dial_status"] == "completed"
    assert 1 <= parent_end["dial_duration"] <= 7, parent_end
    assert child_end["status"] == "completed" and child_end["parent_call_id"] == call.uuid
    assert models.Call.get_by_id(placed.id).status == "completed"


@pytest.mark.parametrize(
    "scenario,expected",
    [("uas_answer_bye.xml", "answered false"), ("uas_busy.xml", "busy false")],
    ids=["answered", "busy"],
)
def test_dial_waiting_for_the_answer(
    trunk_platform,  # noqa: F811 (a fixture)
    callback_server,
    dial,  # noqa: F811
    sipp,
    scenario,
    expected,
):
    child = {"actions": [{"type": "SAY", "params": {"text": "Hello from the new call."}}, {"type": "HANGUP"}]}
    configure(trunk_platform, DID, flows(callback_server, parent_flow(wait_for="answered", timeout=5), child))
    answerer = sipp.start(scenario, uas=True, timeout="30s", duration_ms=4000)
    call = dial()
    result = call.result(timeout=60)
    assert result.returncode == 0, f"{result!r}\n{call.watcher.describe(call.uuid)}"
    answerer.wait(timeout=30)
    assert wait_until(lambda: len(callback_server.of_type("call_ended")) == 2, 15), callback_server.requests
    [placed] = children(call.uuid)
    assert call.spoken() == ["Placing your call.", f"The call ended {expected}."]
    [child_end] = ended_of(callback_server, placed.id)
    if expected.startswith("busy"):
        assert child_end["status"] == "busy" and child_end["hangup_cause"] == "USER_BUSY"
        assert not [r for r in callback_server.of_type("init_call") if r["call_id"] == placed.id]
    else:
        assert ("speak", "flite|kal|Hello from the new call.") in call.watcher.executed(placed.id)
        assert child_end["status"] == "completed"
