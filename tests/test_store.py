"""The call server's per-call statements, written out by hand, against the models (both databases)."""

import datetime as dt
import time

import gevent
import pytest

from voxology_fs import models, store
from voxology_fs.callbacks import CallbackTarget
from voxology_fs.flow.state import CallState


def _number(number, account, **config):
    app = models.Application.create(account=account, name="main")
    phone = models.PhoneNumber.create(number=number, account=account, application=app, service="CallFlows")
    if config:
        models.CallFlowConfig.create(phone_number=phone, **config)
    return app


def test_route_of_a_number(db):
    parent = models.Account.create(name="acme")
    child = models.Account.create(name="acme east", parent=parent)
    app = _number(
        "+17145551212",
        parent,
        url="http://127.0.0.1/a",
        method="GET",
        content_type="application/xml",
        fallback_url="http://127.0.0.1/b",
        fallback_method="POST",
    )
    sub_app = _number("+17145551213", child, url="http://127.0.0.1/c")
    _number("+17145551214", parent)  # provisioned, but no configuration yet

    route = store.route_for("+17145551212")
    assert (route.account_id, route.application_id, route.subaccount_id) == (parent.id, app.id, "0")
    assert route.target == CallbackTarget("http://127.0.0.1/a", "GET", "application/xml")
    assert route.fallback == CallbackTarget("http://127.0.0.1/b", "POST", "application/xml")

    route = store.route_for("+17145551213")
    assert (route.subaccount_id, route.application_id) == (child.id, sub_app.id)
    assert route.target == CallbackTarget("http://127.0.0.1/c", "POST", "application/json")
    assert route.fallback is None
    assert store.route_for("+17145551214") is None and store.route_for("+19999999999") is None


def test_a_call_written_and_finished_reads_back_through_the_models(db):
    account = models.Account.create(name="acme")
    app = _number("+17145551212", account, url="http://127.0.0.1/a")
    started = dt.datetime(2026, 11, 26, 10, 0, 0, 123000)
    state = CallState(
        call_id="c-1",
        direction="inbound",
        caller_no="+19495551212",
        api_no="+17145551212",
        app_id=app.id,
        account_id=account.id,
        start_time=started,
        session_data={"name": "Bob", "n": 1},
        sip_domain="sip.example",
    )
    store.create_call(state, "fs1", "uuid-1", app.id)
    call = models.Call.get_by_id("c-1")
    assert (call.account_id, call.application_id, call.switch, call.channel_uuid) == (
        account.id,
        app.id,
        "fs1",
        "uuid-1",
    )
    assert call.start_time == started and call.session_data == {"name": "Bob", "n": 1}
    assert call.key_presses == [] and call.errors == [] and call.end_time is None and call.to_no == ""

    state.key_presses = [{"name": "menu", "digits": "1"}]
    state.detection = "human"
    store.save_progress(state)
    assert models.Call.get_by_id("c-1").key_presses == [{"name": "menu", "digits": "1"}]

    state.status, state.hangup_cause = "completed", "NORMAL_CLEARING"
    state.end_time = started + dt.timedelta(seconds=3)
    assert store.finish_call(state) is True
    assert store.finish_call(state) is False  # exactly one writer finishes a call
    call = models.Call.get_by_id("c-1")
    assert (call.status, call.hangup_cause, call.duration_ms, call.detection) == (
        "completed",
        "NORMAL_CLEARING",
        3000,
        "human",
    )
    assert call.end_time == state.end_time


def test_mark_live_leaves_a_finished_call_alone(db):
    account = models.Account.create(name="acme")
    models.Call.create(id="c-2", account=account, direction="outbound", status="queued", api_no="+17145551212")
    answered = dt.datetime(2026, 11, 26, 10, 0, 1)
    store.mark_live("c-2", "uuid-2", answered)
    call = models.Call.get_by_id("c-2")
    assert (call.status, call.channel_uuid, call.answer_time) == ("live-in-progress", "uuid-2", answered)
    models.Call.update(status="completed", end_time=answered).where(models.Call.id == "c-2").execute()
    store.mark_live("c-2", "uuid-3", answered)
    assert models.Call.get_by_id("c-2").status == "completed"


def test_the_call_server_checkpoints_sqlite_outside_its_commits(tmp_path):
    """With background checkpoints, no commit checkpoints the log (autocheckpoint
    off); the checkpointer copies it into the database from a thread."""
    import sqlite3

    from voxology_fs import db as dbmod

    previous = dbmod.database.obj
    path = tmp_path / "cs.sqlite3"
    try:
        dbmod.connect(f"sqlite:///{path}", background_checkpoints=True)
        dbmod.migrate()
        checkpointer = dbmod._checkpointer
        assert checkpointer is not None
        with dbmod.database.connection_context():
            assert dbmod.database.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
            for i in range(300):
                models.Account.create(name=f"a{i}")
        # Its greenlet runs a PASSIVE checkpoint every second.
        deadline = time.monotonic() + 5
        while checkpointer.last_result is None and time.monotonic() < deadline:
            gevent.sleep(0.05)
        busy, frames, checkpointed = checkpointer.last_result
        assert busy == 0 and frames > 0 and checkpointed == frames
        # The data is in the database file itself now, not only in the log.
        with sqlite3.connect(path) as reader:
            assert reader.execute("SELECT count(*) FROM account").fetchone()[0] == 300
    finally:
        dbmod.close()
        if previous is not None:
            dbmod.database.initialize(previous)


def test_other_processes_keep_sqlite_default_checkpoints(tmp_path):
    from voxology_fs import db as dbmod

    previous = dbmod.database.obj
    try:
        dbmod.connect(f"sqlite:///{tmp_path}/api.sqlite3")
        assert dbmod._checkpointer is None
        with dbmod.database.connection_context():
            assert dbmod.database.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        dbmod.close()
        if previous is not None:
            dbmod.database.initialize(previous)


def test_a_unit_of_work_that_reads_then_writes_holds_sqlite_s_write_lock_from_its_start(tmp_path):
    """A read, another connection's write, then our write: with a deferred
    transaction our write fails at once (the snapshot we read is stale, no
    busy wait helps), as TRANSFERs ending together did.  The unit of work
    takes the lock when it begins, so the other writer waits instead."""
    import sqlite3

    from voxology_fs import db as dbmod

    previous = dbmod.database.obj
    path = tmp_path / "lock.sqlite3"
    try:
        dbmod.connect(f"sqlite:///{path}")
        dbmod.migrate()
        with dbmod.unit_of_work():
            assert models.Account.select().count() == 0  # the read
            other = sqlite3.connect(path, timeout=0.2)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO account (id, name, created_at) VALUES ('b', 'other', '2026-01-01')")
            other.close()
            models.Account.create(name="ours")  # the write
        with dbmod.database.connection_context():
            assert [a.name for a in models.Account.select()] == ["ours"]
    finally:
        dbmod.close()
        if previous is not None:
            dbmod.database.initialize(previous)
