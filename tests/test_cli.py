"""The command line: simulate prints what the caller hears."""

import os

import pytest

from voxology_fs import cli

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "voxology_fs", "examples")


def test_simulate_prints_the_call(capsys):
    code = cli.main(["simulate", os.path.join(EXAMPLES, "Example-ConditionalProcessing.json"), "--press", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'caller hears: says: "You pressed 1. Thank you for following instructions."' in out
    assert "caller presses 1" in out and "call ended: status completed" in out


def test_simulate_reports_errors_with_a_nonzero_exit(tmp_path, capsys):
    flow = tmp_path / "bad.json"
    flow.write_text('{"actions": [{"type": "SAY"}]}')
    assert cli.main(["simulate", str(flow)]) == 1
    assert "/actions/0/params/text" in capsys.readouterr().out


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_serve_runs_both_and_stops_on_sigterm(tmp_path):
    """``voxology-fs serve``: the call server and gunicorn; SIGTERM stops all of it."""
    import signal
    import subprocess
    import sys
    import time

    env = dict(
        os.environ,
        VOXOLOGY_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        VOXOLOGY_OUTBOUND_PORT="0",
        VOXOLOGY_API_PORT="0",
        VOXOLOGY_ESL_PORT="9",
        PYTHONPATH=os.path.abspath(os.path.join(os.path.dirname(__file__), "..")),
    )
    log_path = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxology_fs.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 30
        while "Booting worker" not in log_path.read_text():
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert "call server on 127.0.0.1:" in log_path.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "stopped: 0 calls handled" in log_path.read_text()
        deadline = time.time() + 20
        while _group_alive(proc.pid) and time.time() < deadline:  # gunicorn's graceful stop
            time.sleep(0.2)
        assert not _group_alive(proc.pid), "gunicorn outlived serve"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_callserver_stops_cleanly_on_a_signal(tmp_path, sig):
    """``voxology-fs callserver`` stops on SIGTERM (systemd's stop), and on SIGINT
    even when started by a shell that ignores SIGINT, as shells do for
    background jobs; either way it prints its summary."""
    import signal
    import subprocess
    import sys
    import time

    env = dict(
        os.environ,
        VOXOLOGY_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        VOXOLOGY_OUTBOUND_PORT="0",
        PYTHONPATH=os.path.abspath(os.path.join(os.path.dirname(__file__), "..")),
    )
    log_path = tmp_path / "callserver.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxology_fs.cli", "callserver"],
        env=env,
        cwd=tmp_path,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.time() + 30
        while "call server on 127.0.0.1:" not in log_path.read_text():
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()
            time.sleep(0.1)
        proc.send_signal(getattr(signal, sig))
        assert proc.wait(timeout=20) == 0
        assert "call server stopped: 0 calls handled" in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_operator_commands(tmp_path, capsys, monkeypatch):
    """Accounts, subaccounts, applications and their keys, and the number inventory, from the command line."""
    import re

    import peewee

    from voxology_fs import db as dbmod
    from voxology_fs.api import create_app
    from voxology_fs.models import Account, PhoneNumber
    from voxology_fs.settings import Settings

    url = f"sqlite:///{tmp_path}/ops.sqlite3"
    monkeypatch.setenv("VOXOLOGY_DATABASE_URL", url)
    previous = dbmod.database.obj

    def run(*argv):
        assert cli.main(list(argv)) == 0
        return capsys.readouterr().out

    try:
        parent = re.search(r"account (\S+)", run("account", "create", "Acme")).group(1)
        child = re.search(r"account (\S+)", run("account", "create", "Acme West", "--parent", parent)).group(1)
        out = run("app", "create", "--account", child, "main")
        app_id = re.search(r"application (\S+)", out).group(1)
        key = re.search(r"API key \(shown only now; keep it secret\): (\S+)", out).group(1)
        csv = tmp_path / "dids.csv"
        csv.write_text("number,capabilities,country\n+17145551212,voice;sms,US\n(714) 555-0100,voice,US\n")
        assert "2 numbers added" in run("numbers", "import", str(csv))

        with dbmod.database.connection_context():
            assert Account.get_by_id(child).parent_id == parent
            assert sorted(p.number for p in PhoneNumber.select()) == ["+17145550100", "+17145551212"]
            assert not Account.select().where(Account.name.contains(key)).exists()
        client = create_app(Settings(database_url=url, api_rate_limit=0)).test_client()
        assert client.get("/v1/PhoneNumbers", headers={"x-api-key": key}).status_code == 200

        new_key = re.search(r": (\S+)$", run("key", "rotate", app_id).strip()).group(1)
        assert client.get("/v1/PhoneNumbers", headers={"x-api-key": key}).status_code == 401
        assert client.get("/v1/PhoneNumbers", headers={"x-api-key": new_key}).status_code == 200
        run("key", "revoke", app_id)
        assert client.get("/v1/PhoneNumbers", headers={"x-api-key": new_key}).status_code == 401
    finally:
        dbmod.close()
        if isinstance(previous, peewee.Database):
            dbmod.database.initialize(previous)
