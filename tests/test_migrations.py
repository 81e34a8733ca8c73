"""Upgrading a database that has data in it, on SQLite and on PostgreSQL (``-m db``).

Each test builds its own database (a SQLite file, or a PostgreSQL schema of
its own) at an older migration, fills it the way that version wrote it, and
upgrades it.
"""

import datetime as dt
import uuid

import peewee
import pytest
from playhouse.migrations import Runner

from tests.support.database import TEST_DATABASE_URL
from voxology_fs import db as dbmod

pytestmark = pytest.mark.db

T0 = dt.datetime(2026, 11, 30, 9, 0, 0)


@pytest.fixture
def old_database(tmp_path):
    """An empty database of its own, on the engine the suite runs on."""
    if TEST_DATABASE_URL.startswith("postgres"):
        schema = "migration_" + uuid.uuid4().hex[:12]
        admin = peewee.PostgresqlDatabase(TEST_DATABASE_URL.rsplit("/", 1)[1], dsn=TEST_DATABASE_URL)
        admin.execute_sql(f'CREATE SCHEMA "{schema}"')
        database = peewee.PostgresqlDatabase(None)
        database.init(TEST_DATABASE_URL.rsplit("/", 1)[1], dsn=TEST_DATABASE_URL, options=f"-c search_path={schema}")
        yield database
        database.close()
        admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
    else:
        database = peewee.SqliteDatabase(str(tmp_path / "old.sqlite3"), pragmas={"foreign_keys": 1})
        yield database
        database.close()


def _runner(database):
    return Runner(database, directory=dbmod.MIGRATIONS_DIR)


def _insert_call(database, **values):
    row = {
        "switch": "fs1",
        "status": "completed",
        "caller_no": "",
        "api_no": "",
        "to_no": "",
        "key_presses": "[]",
        "recordings": "[]",
        "errors": "[]",
        "sip_domain": "",
        "sip_forwarded_for": "",
        **values,
    }
    columns = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join([database.param] * len(row))
    database.execute_sql(f'INSERT INTO "call" ({columns}) VALUES ({marks})', list(row.values()))


def test_0003_gives_every_existing_call_its_caller_leg(old_database):
    database = old_database
    assert _runner(database).up("0002_caller_ids") == ["0001_initial", "0002_caller_ids"]
    database.execute_sql(
        f'INSERT INTO "account" ("id", "name", "created_at") VALUES '
        f"({database.param}, {database.param}, {database.param})",
        ["acct-1", "acme", T0],
    )
    second = dt.timedelta(seconds=1)
    _insert_call(
        database,
        id="in-ended",
        account_id="acct-1",
        channel_uuid="chan-in-ended",
        direction="inbound",
        caller_no="+19495551212",
        api_no="+17145551212",
        start_time=T0,
        answer_time=T0 + second,
        end_time=T0 + 9 * second,
        duration_ms=9000,
        hangup_cause="NORMAL_CLEARING",
    )
    _insert_call(
        database,
        id="out-busy",
        account_id="acct-1",
        channel_uuid="out-busy",
        direction="outbound",
        status="busy",
        caller_no="+13105550000",
        api_no="+17145551212",
        to_no="+13105550000",
        start_time=T0,
        end_time=T0 + 2 * second,
        hangup_cause="USER_BUSY",
    )
    _insert_call(
        database,
        id="in-live",
        account_id="acct-1",
        channel_uuid="chan-in-live",
        direction="inbound",
        status="live-in-progress",
        caller_no="+19495550001",
        api_no="+17145551212",
        start_time=T0 + second,
        answer_time=T0 + 2 * second,
    )
    _insert_call(
        database,
        id="out-queued",
        channel_uuid="out-queued",
        direction="outbound",
        status="queued",
        caller_no="+13105550001",
        api_no="+17145551212",
        to_no="+13105550001",
        start_time=T0 + second,
    )

    assert _runner(database).up("0003_legs") == ["0003_legs"]

    legs = {
        row[0]: row[1:]
        for row in database.execute_sql(
            'SELECT "call_id", "role", "direction", "from_no", "to_no", "switch", "channel_uuid", "created_at", '
            '"answered_at", "ended_at", "hangup_cause", "id" FROM "leg"'
        ).fetchall()
    }
    assert set(legs) == {"in-ended", "out-busy", "in-live", "out-queued"}

    def when(value):  # SQLite hands back text
        return dt.datetime.fromisoformat(str(value)) if value is not None else None

    role, direction, from_no, to_no, switch, channel, created, answered, ended, cause, _ = legs["in-ended"]
    assert (role, direction, from_no, to_no, switch, channel) == (
        "caller",
        "inbound",
        "+19495551212",
        "+17145551212",
        "fs1",
        "chan-in-ended",
    )
    assert (when(created), when(answered), when(ended), cause) == (T0, T0 + second, T0 + 9 * second, "NORMAL_CLEARING")
    role, direction, from_no, to_no, _, channel, _, answered, ended, cause, _ = legs["out-busy"]
    assert (role, direction, from_no, to_no, channel) == (
        "caller",
        "outbound",
        "+17145551212",
        "+13105550000",
        "out-busy",
    )
    assert (answered, when(ended), cause) == (None, T0 + 2 * second, "USER_BUSY")
    live = legs["in-live"]
    assert (when(live[6]), when(live[7]), live[8], live[9]) == (T0 + second, T0 + 2 * second, None, None)
    assert legs["out-queued"][2:4] == ("+17145551212", "+13105550001")
    assert len({leg[-1] for leg in legs.values()}) == 4  # each leg an id of its own

    # The new column and table work: a child call points to its parent; a claim is taken once.
    _insert_call(
        database,
        id="child",
        channel_uuid="child",
        direction="outbound",
        caller_no="+13105550002",
        api_no="+17145551212",
        start_time=T0,
        parent_call_id="in-live",
    )
    assert database.execute_sql(
        'SELECT "id" FROM "call" WHERE "parent_call_id" = ' + database.param, ["in-live"]
    ).fetchall() == [("child",)]
    # Calls from before hold no call server on record.
    assert database.execute_sql('SELECT DISTINCT "call_server" FROM "call"').fetchall() == [(None,)]
    database.execute_sql(
        f'INSERT INTO "claim" ("key", "claimed_at") VALUES ({database.param}, {database.param})', ["core:1", T0]
    )
    with pytest.raises(peewee.IntegrityError), database.atomic():
        database.execute_sql(
            f'INSERT INTO "claim" ("key", "claimed_at") VALUES ({database.param}, {database.param})', ["core:1", T0]
        )

    # And it goes back down cleanly.
    assert _runner(database).down() == ["0003_legs"]
    assert "leg" not in database.get_tables() and "claim" not in database.get_tables()
    assert {"parent_call_id", "call_server"}.isdisjoint(c.name for c in database.get_columns("call"))


def test_0004_keeps_calls_and_gives_them_a_dial_flow_and_a_call_to_join(old_database):
    database = old_database
    _runner(database).up("0003_legs")
    _insert_call(
        database,
        id="before",
        channel_uuid="before",
        direction="inbound",
        caller_no="+19495551212",
        api_no="+17145551212",
        start_time=T0,
    )

    assert _runner(database).up("0004_dial") == ["0004_dial"]

    # Calls from before run their number's flow and join no one.
    assert database.execute_sql('SELECT "id", "flow_url", "flow_method", "connect_to" FROM "call"').fetchall() == [
        ("before", None, None, None)
    ]
    _insert_call(
        database,
        id="dialled",
        channel_uuid="dialled",
        direction="outbound",
        caller_no="+13105550002",
        api_no="+17145551212",
        start_time=T0,
        parent_call_id="before",
        flow_url="https://example.com/flow",
        flow_method="GET",
        connect_to="before",
    )
    assert database.execute_sql(
        'SELECT "flow_url", "flow_method", "connect_to" FROM "call" WHERE "id" = ' + database.param, ["dialled"]
    ).fetchall() == [("https://example.com/flow", "GET", "before")]

    assert _runner(database).down() == ["0004_dial"]
    assert {"flow_url", "flow_method", "connect_to"}.isdisjoint(c.name for c in database.get_columns("call"))
    assert database.execute_sql('SELECT COUNT(*) FROM "call"').fetchall() == [(2,)]


def test_0005_and_0006_add_rooms_and_queues_and_go_back_down(old_database):
    database = old_database
    _runner(database).up("0004_dial")
    database.execute_sql(
        f'INSERT INTO "account" ("id", "name", "created_at") VALUES '
        f"({database.param}, {database.param}, {database.param})",
        ["acct-1", "acme", T0],
    )
    _insert_call(database, id="in", account_id="acct-1", direction="inbound", api_no="+17145551212", start_time=T0)

    assert _runner(database).up("0006_queues") == ["0005_conferences", "0006_queues"]
    p = database.param
    database.execute_sql(
        f'INSERT INTO "conference" ("room", "account_id", "name", "switch", "created_at") VALUES ({p}, {p}, {p}, {p}, {p})',
        ["acct1-abc", "acct-1", "sales room", "fs1", T0],
    )
    database.execute_sql(
        f'INSERT INTO "conference_member" ("conference_id", "call_id", "member_id", "muted", "joined_at") '
        f"VALUES ({p}, {p}, {p}, {p}, {p})",
        ["acct1-abc", "in", "7", False, T0],
    )
    database.execute_sql(
        f'INSERT INTO "queue_member" ("account_id", "name", "call_id", "channel_uuid", "joined_at") '
        f"VALUES ({p}, {p}, {p}, {p}, {p})",
        ["acct-1", "support", "in", "in", T0],
    )
    assert database.execute_sql('SELECT "member_id" FROM "conference_member"').fetchall() == [("7",)]
    assert database.execute_sql('SELECT "name" FROM "queue_member"').fetchall() == [("support",)]

    assert _runner(database).up("0007_conference_hold") == ["0007_conference_hold"]
    assert database.execute_sql('SELECT "held" FROM "conference_member"').fetchall() in ([(False,)], [(0,)])
    assert _runner(database).up("0008_recordings") == ["0008_recordings"]
    database.execute_sql(
        f'INSERT INTO "recording" ("id", "account_id", "call_id", "name", "source", "format", "channels", "status", '
        f'"store_key", "created_at") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})',
        ["rec-1", "acct-1", "in", "vm", "record", "wav", 1, "in-progress", "acct-1/rec-1.wav", T0],
    )
    assert database.execute_sql('SELECT "status", "format" FROM "recording"').fetchall() == [("in-progress", "wav")]
    assert _runner(database).up("0009_messages") == ["0009_messages"]
    database.execute_sql(
        f'INSERT INTO "message" ("id", "account_id", "direction", "from_no", "to_no", "text", "status", '
        f'"switch", "created_at", "updated_at") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})',
        ["msg-1", "acct-1", "inbound", "+13125550100", "+17145551212", "hi", "received", "fs1", T0, T0],
    )
    assert database.execute_sql('SELECT "text" FROM "message"').fetchall() == [("hi",)]
    # A recording from before the bucket existed is in the folder.
    assert _runner(database).up("0010_recording_store_and_transfer_legs") == ["0010_recording_store_and_transfer_legs"]
    assert database.execute_sql('SELECT "stored_in", "room", "source" FROM "recording"').fetchall() == [
        ("local", None, "record")
    ]
    assert database.execute_sql('SELECT "transfer_leg" FROM "call"').fetchall() in ([(False,)], [(0,)])
    assert _runner(database).up() == ["0011_conference_status_and_coach"]
    assert database.execute_sql('SELECT "status_url" FROM "conference"').fetchall() == [(None,)]
    assert _runner(database).down() == ["0011_conference_status_and_coach"]
    assert "status_url" not in {c.name for c in database.get_columns("conference")}
    assert "coaching" not in {c.name for c in database.get_columns("conference_member")}
    assert _runner(database).down() == ["0010_recording_store_and_transfer_legs"]
    assert {"stored_in", "room"}.isdisjoint({c.name for c in database.get_columns("recording")})
    assert "transfer_leg" not in {c.name for c in database.get_columns("call")}
    assert database.execute_sql('SELECT "id", "source" FROM "recording"').fetchall() == [("rec-1", "record")]
    assert _runner(database).down() == ["0009_messages"]
    assert "message" not in database.get_tables()
    assert _runner(database).down() == ["0008_recordings"]
    assert {"recording", "secret"}.isdisjoint(database.get_tables())
    assert _runner(database).down() == ["0007_conference_hold"]
    assert "held" not in {c.name for c in database.get_columns("conference_member")}
    assert _runner(database).down() == ["0006_queues"]
    assert _runner(database).down() == ["0005_conferences"]
    assert {"conference", "conference_member", "queue_member"}.isdisjoint(database.get_tables())
    assert database.execute_sql('SELECT COUNT(*) FROM "call"').fetchall() == [(1,)]
