"""Issue 3, "Exactly one ending", across processes.

Seven processes share one database (a WAL SQLite file, or PostgreSQL on the
``-m db`` run): the REST app (``voxology-fs api``: gunicorn, 2 gevent
workers, each with an inbound ESL link to both switches and so a watcher of
each), two call servers (``voxology-fs callserver``) and two fake switches
(``python -m tests.fakefs``).  Switch A hands answered calls to call
server 1, switch B to call server 2 (``socket_address``).  The customer's
callback server runs in this process.

The switches decide by the dialled number: ...1 busy, ...2 no answer,
...3 failed (NO_ROUTE_DESTINATION), anything else answers after 100 ms.
The flow is SAY, PAUSE 300 ms, HANGUP.

1. twenty calls of every outcome, on both switches;
2. eight answered calls; those on switch B are held (their ``init_call``
   waits) until all of them are live, then let go, and once each is in its
   PAUSE call server 2 is killed with SIGKILL;
3. eight more answered calls right after the kill: those on switch B are
   answered but reach no call server.

Every call must end with exactly one ``call_ended`` whose status is the
outcome's, and one final record (status final, ``end_time`` set).  The
calls that call server 2 was running when it died are checked on their own
(see ``test_calls_of_a_killed_call_server_end_once``).
"""

import json
import time

import gevent
import gevent.event
import peewee
import pytest
import requests

from tests.support.callbacks import CallbackServer
from tests.support.database import TEST_DATABASE_URL
from tests.support.multiproc import Processes, python_env
from tests.support.provision import DID, INVENTORY, call_record, tenant
from tests.support.rest import enc
from tests.support.waiting import wait_until
from voxology_fs import models, operator
from voxology_fs.esl.connection import InboundConnection

FLOW = {
    "actions": [
        {"type": "SAY", "params": {"text": "Hello."}},
        {"type": "PAUSE", "params": {"length": 300}},
        {"type": "HANGUP"},
    ]
}
POLICY = "1=busy,2=noanswer,3=fail:NO_ROUTE_DESTINATION,*=answer:100"
OUTCOME_BY_LAST_DIGIT = {
    "1": ("busy", "USER_BUSY"),
    "2": ("no-answer", "NO_ANSWER"),
    "3": ("failed", "NO_ROUTE_DESTINATION"),
}
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
SWITCH_A, SWITCH_B = "fsA", "fsB"
# Seconds the REST workers' watcher waits after a hangup before it looks
# (voxology_fs.watcher.SwitchWatcher.hangup_grace), plus room for a slow machine.
# The REST workers' watchers finish a live call whose call server died this
# many seconds after its channel hung up (production default: 45 s).
ORPHAN_GRACE = 3.0
WATCHER_WAIT = ORPHAN_GRACE + 3.0


def database_url(database):
    if isinstance(database, peewee.SqliteDatabase):
        return "sqlite:///" + database.database
    return TEST_DATABASE_URL


def records(ids):
    with models.database.connection_context():
        return {c.id: c for c in models.Call.select().where(models.Call.id.in_(list(ids)))}


class Customer:
    """The customer's callback server: the flow, every request recorded; can hold ``init_call``."""

    def __init__(self):
        self.server = CallbackServer()
        self.url = self.server.route("/flow", self._handle)
        self.hold_on = None  # a predicate on the call's record, or None
        self.held: set[str] = set()
        self.release = gevent.event.Event()

    def _handle(self, request):
        body = request["json"] or {}
        kind = body.get("type")
        if kind == "init_call":
            if self.hold_on is not None and self.hold_on(call_record(body["call_id"])):
                self.held.add(body["call_id"])
                self.release.wait(timeout=20)
            return FLOW
        if kind == "call_ended":
            return {}
        return {"actions": [{"type": "HANGUP"}]}

    def of_type(self, kind):
        return [r["json"] for r in self.server.requests if r["json"] and r["json"].get("type") == kind]

    def ended(self, call_id):
        return [e for e in self.of_type("call_ended") if e.get("call_id") == call_id]

    def close(self):
        self.release.set()
        self.server.close()


class Probe:
    """This test's own inbound ESL connection to a fake switch, for ``api fake_status``."""

    def __init__(self, port):
        self.conn = InboundConnection.open("127.0.0.1", port, "ClueCon", timeout=5.0)

    def status(self):
        return json.loads(self.conn.api("fake_status", timeout=5.0))

    def close(self):
        self.conn.close()


class Platform:
    """The seven processes, the customer, and what happened to each call."""

    def __init__(self, tmp, database):
        self.tmp = tmp
        self.procs = Processes(tmp)
        self.customer = Customer()
        self.probes: dict[str, Probe] = {}
        self.http = requests.Session()
        self.url = database_url(database)
        self.expected: dict[str, tuple] = {}  # call id -> (status, cause or None)
        self.victims: list[str] = []  # live on call server 2 when it was killed
        self.killed_at = None

    # -- processes ------------------------------------------------------------------
    def start(self):
        env = python_env()
        fakes = {
            name: self.procs.python(
                f"fake-{name}",
                [
                    "-m",
                    "tests.fakefs",
                    "--name",
                    name,
                    "--esl-port",
                    "0",
                    "--time-scale",
                    "1.0",
                    "--media-ms",
                    "20",
                    "--policy",
                    POLICY,
                ],
                env=env,
                cwd=self.tmp,
            )
            for name in (SWITCH_A, SWITCH_B)
        }
        base = f'''database_url = "{self.url}"
database_pool_size = 10
outbound_host = "127.0.0.1"
outbound_port = 0
api_host = "127.0.0.1"
api_workers = 2
api_rate_limit = 0
esl_reconnect_min = 0.1
esl_reconnect_max = 1.0
callback_connect_timeout = 2.0
callback_timeout = 10.0
audio_cache_dir = "{self.tmp / "audio"}"
recordings_dir = "{self.tmp / "recordings"}"
'''
        (self.tmp / "callserver.toml").write_text(base)
        servers = [
            self.procs.python(
                f"callserver-{i}",
                ["-m", "voxology_fs.cli", "--config", str(self.tmp / "callserver.toml"), "callserver"],
                env=env,
                cwd=self.tmp,
            )
            for i in (1, 2)
        ]
        self.callserver2 = servers[1]
        esl_ports = {name: int(p.wait_for_output(r"ESL on 127\.0\.0\.1:(\d+)").group(1)) for name, p in fakes.items()}
        socket_ports = [int(p.wait_for_output(r"call server on 127\.0\.0\.1:(\d+)").group(1)) for p in servers]
        switches = "".join(
            f'''
[[switch]]
name = "{name}"
host = "127.0.0.1"
port = {esl_ports[name]}
password = "ClueCon"
dial_string = "loopback/{{number}}"
socket_address = "127.0.0.1:{socket_port}"
'''
            for name, socket_port in zip((SWITCH_A, SWITCH_B), socket_ports, strict=True)
        )
        # port 0: gunicorn binds an ephemeral port (its workers share the socket) and logs it
        (self.tmp / "api.toml").write_text(base + f"api_port = 0\norphaned_call_grace = {ORPHAN_GRACE}\n" + switches)
        api = self.procs.python(
            "api", ["-m", "voxology_fs.cli", "--config", str(self.tmp / "api.toml"), "api"], env=env, cwd=self.tmp
        )
        api_port = int(api.wait_for_output(r"Listening at: http://127\.0\.0\.1:(\d+)", stream="err").group(1))
        self.base = f"http://127.0.0.1:{api_port}/v1"
        for name, port in esl_ports.items():
            self.probes[name] = Probe(port)

        def api_up():
            try:
                return self.http.get(self.base + "/openapi.json", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(api_up, 30, 0.1), "the REST app did not start\n" + self.procs.tails()
        # both workers have their links (and so a watcher) on both switches
        assert wait_until(lambda: all(p.status()["watchers"] == 2 for p in self.probes.values()), 20, 0.1), (
            "the REST workers did not all connect to both switches\n" + self.procs.tails()
        )
        assert api.alive()

    def stop(self):
        self.customer.close()
        for probe in self.probes.values():
            probe.close()
        self.procs.stop_all()

    # -- the customer -------------------------------------------------------------------
    def provision(self):
        operator.import_numbers(INVENTORY)
        _, _, key = tenant("exactly-once")
        self.http.headers["x-api-key"] = key
        r = self.http.post(self.base + "/PhoneNumbers/CallFlows", json={"phone_numbers": [{"no": DID}]}, timeout=10)
        assert r.status_code == 201, r.text
        r = self.http.put(
            self.base + "/CallFlows/Configurations/PhoneNumbers/" + enc(DID),
            timeout=10,
            json={"callback": {"method": "POST", "url": self.customer.url, "content_type": "application/json"}},
        )
        assert r.status_code == 200, r.text

    def call(self, number):
        timeout = 1 if number.endswith("2") else 30
        r = self.http.post(
            self.base + "/Dials/Connect",
            timeout=10,
            json={"call": {"no": number, "caller_id_no": DID}, "timeout": timeout},
        )
        assert r.status_code == 201, (number, r.status_code, r.text)
        return r.json()["call_id"]

    def final(self, ids):
        rows = records(ids)
        return len(rows) == len(ids) and all(c.status in FINAL and c.end_time for c in rows.values())

    def ended_once(self, ids):
        return all(self.customer.ended(i) for i in ids)

    # -- the scenario ----------------------------------------------------------------------
    def run(self):
        self.provision()

        # 1. every outcome, both switches
        numbers = [f"+1949555{n:04d}" for n in range(100, 120)]
        placed = {self.call(no): no for no in numbers}
        self.phase1 = list(placed)
        for call_id, no in placed.items():
            self.expected[call_id] = OUTCOME_BY_LAST_DIGIT.get(no[-1], ("completed", None))
        assert wait_until(lambda: self.final(placed) and self.ended_once(placed), 15), (
            f"phase 1 did not end: {self.summary(placed)}\n" + self.procs.tails()
        )
        assert {c.switch for c in records(placed).values()} == {SWITCH_A, SWITCH_B}

        # 2. answered calls; call server 2 dies under those switch B gave it
        self.customer.hold_on = lambda call: call.switch == SWITCH_B and call.to_no.startswith("+194955502")
        phase2 = [self.call(f"+1949555{n:04d}") for n in (204, 205, 206, 207, 208, 209, 210, 214)]
        on_b = [i for i, c in records(phase2).items() if c.switch == SWITCH_B]
        assert len(on_b) >= 2, f"switch choice left switch B almost idle: {self.summary(phase2)}"
        for call_id in phase2:
            self.expected[call_id] = ("completed", None)
        assert wait_until(lambda: self.customer.held >= set(on_b), 10), (
            f"calls on switch B did not all ask for their flow: {self.summary(phase2)}\n" + self.procs.tails()
        )
        assert all(c.status == "live-in-progress" for c in records(on_b).values())
        self.customer.release.set()

        def all_in_pause():
            calls = self.probes[SWITCH_B].status()["calls"]
            return all(calls.get(i, {}).get("app") == "sleep" and not calls[i]["down"] for i in on_b)

        assert wait_until(all_in_pause, 5, 0.01), self.summary(on_b)
        self.callserver2.kill()
        self.killed_at = time.monotonic()
        unfinished = {i for i, c in records(on_b).items() if c.end_time is None}
        self.victims = [i for i in on_b if i in unfinished and not self.customer.ended(i)]
        assert self.victims, "every call on call server 2 ended before it was killed"
        for call_id in self.victims:
            # up when its call server died: the watcher ends it "completed", with the loss recorded
            self.expected[call_id] = ("completed", None)

        # 3. answered after the kill: switch B's reach no call server
        phase3 = [self.call(f"+1949555{n:04d}") for n in (304, 305, 306, 307, 308, 309, 310, 314)]
        rows = records(phase3)
        for call_id in phase3:
            self.expected[call_id] = ("failed" if rows[call_id].switch == SWITCH_B else "completed", None)
        self.phase3_on_b = [i for i in phase3 if rows[i].switch == SWITCH_B]

        others = [i for i in self.expected if i not in self.victims]
        assert wait_until(lambda: self.final(others) and self.ended_once(others), 15), (
            f"calls did not end: {self.summary(others)}\n" + self.procs.tails()
        )
        # the victims get until the watcher has surely looked at them
        wait_until(
            lambda: self.final(self.victims) and self.ended_once(self.victims),
            max(0.0, self.killed_at + WATCHER_WAIT - time.monotonic()),
        )
        gevent.sleep(0.5)  # room for a second (wrong) call_ended to arrive

    def summary(self, ids):
        rows = records(ids)
        return {
            i[:8]: (rows[i].switch, rows[i].to_no, rows[i].status, len(self.customer.ended(i))) if i in rows else None
            for i in ids
        }


@pytest.fixture(scope="module")
def platform(database, tmp_path_factory):
    with database.connection_context():
        for model in reversed(models.ALL_MODELS):
            model.delete().execute()
    started = time.monotonic()
    platform = Platform(tmp_path_factory.mktemp("exactly-once"), database)
    try:
        platform.start()
        platform.run()
        platform.elapsed = time.monotonic() - started
        yield platform
    finally:
        platform.stop()


def check_ended_once(platform, call_id):
    """Exactly one call_ended with the expected status, and a final record that agrees."""
    status, cause = platform.expected[call_id]
    ended = platform.customer.ended(call_id)
    assert len(ended) == 1, f"{call_id}: {len(ended)} call_ended"
    assert ended[0]["status"] == status, (call_id, ended[0]["status"], status)
    if cause:
        assert ended[0]["hangup_cause"] == cause, (call_id, ended[0]["hangup_cause"], cause)
    call = call_record(call_id)
    assert call.status == status and call.end_time is not None, (call_id, call.status, call.end_time)
    assert call.end_time >= call.start_time


def test_every_call_ends_once_with_its_outcome(platform):
    others = [i for i in platform.expected if i not in platform.victims]
    assert len(platform.expected) >= 30
    for call_id in others:
        check_ended_once(platform, call_id)
    statuses = {platform.expected[i][0] for i in others}
    assert statuses == {"completed", "busy", "no-answer", "failed"}
    # switch B's calls after the kill were answered and reached no call server
    assert platform.phase3_on_b, "no call went to switch B after the kill"
    # no call_ended for a call we did not place, none twice (checked per call above)
    assert {e["call_id"] for e in platform.customer.of_type("call_ended")} <= set(platform.expected)
    # the flow ran once for each call that reached a call server, never for the others
    inits = [e["call_id"] for e in platform.customer.of_type("init_call")]
    assert len(inits) == len(set(inits))
    reached = {i for i in others if platform.expected[i][0] == "completed"} | set(platform.victims)
    assert set(inits) == reached
    # the calls the watcher finished: one "ended" trace each, though both REST workers watch both switches
    by_watcher = [i for i in others if platform.expected[i][0] != "completed"]
    with models.database.connection_context():
        traced = list(
            models.CallEvent.select(models.CallEvent.call)
            .where(models.CallEvent.kind == "ended", models.CallEvent.call.in_(by_watcher))
            .tuples()
        )
    assert sorted(c for (c,) in traced) == sorted(by_watcher)
    assert platform.elapsed < 40, f"the scenario took {platform.elapsed:.1f} s"


def test_switch_hung_up_the_calls_of_the_killed_call_server(platform):
    """The switch did its part: each channel whose socket died is down, and the watchers saw it go."""
    calls = platform.probes[SWITCH_B].status()["calls"]
    for call_id in platform.victims:
        assert calls[call_id]["answered"] and calls[call_id]["down"], calls[call_id]
        assert calls[call_id]["hangup_cause"] == "NORMAL_CLEARING"


def test_calls_of_a_killed_call_server_end_once(platform):
    assert platform.victims
    for call_id in platform.victims:
        check_ended_once(platform, call_id)
        assert [e["code"] for e in call_record(call_id).errors][-1:] == ["call_server_lost"]


def test_one_watcher_put_the_switch_figures_on_each_leg_and_call(platform):
    """Phase 1's answered calls, long settled: both REST workers saw each hangup, one claimed it and
    wrote the switch's end time on the call's caller leg and then on the call itself."""
    answered = [i for i in platform.phase1 if platform.expected[i][0] == "completed"]
    assert answered
    with models.database.connection_context():
        legs = {leg.call_id: leg for leg in models.Leg.select().where(models.Leg.call.in_(answered))}
        claimed = models.Claim.select().count()
    assert set(legs) == set(answered) and all(leg.role == "caller" for leg in legs.values())
    for call_id in answered:
        leg, call = legs[call_id], call_record(call_id)
        assert leg.ended_at is not None and leg.answered_at is not None, call_id
        assert (call.end_time, call.answer_time) == (leg.ended_at, leg.answered_at), call_id
    assert claimed >= len(answered)


def test_no_call_is_left_live(platform):
    with models.database.connection_context():
        live = list(
            models.Call.select(models.Call.id, models.Call.status)
            .where(models.Call.end_time.is_null() | models.Call.status.not_in(list(FINAL)))
            .tuples()
        )
    assert live == []
