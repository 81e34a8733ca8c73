"""``voxology-fs api``: gunicorn with gevent workers, each with its own ESL connection."""

import os
import signal
import socket
import subprocess
import sys
import time

import gevent
import peewee
import pytest
import requests

from tests.fakefs import FakeSwitch
from tests.support.provision import tenant
from voxology_fs import operator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(database):
    if isinstance(database, peewee.SqliteDatabase):
        return "sqlite:///" + database.database
    return os.environ["VOXOLOGY_TEST_DATABASE_URL"]


def test_serve_api_under_gunicorn_with_gevent_workers(db, tmp_path):
    fake = FakeSwitch(outbound=("127.0.0.1", 9), time_scale=0.01).start()
    port = free_port()
    config = tmp_path / "voxology.toml"
    config.write_text(f'''database_url = "{database_url(db)}"
api_host = "127.0.0.1"
api_port = {port}
api_workers = 2

[[switch]]
name = "fs1"
host = "127.0.0.1"
port = {fake.esl_port}
password = "ClueCon"
dial_string = "loopback/{{number}}"
''')
    _, _, key = tenant()
    operator.import_numbers("+17145551212,voice\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "voxology_fs.cli", "--config", str(config), "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(base + "/PhoneNumbers/Available", headers={"X-Api-Key": key}, timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):  # workers still booting
                assert time.monotonic() < deadline, "gunicorn did not start"
                gevent.sleep(0.1)
        assert r.status_code == 200 and r.json()["phone_numbers"][0]["no"] == "+17145551212"
        assert requests.get(base + "/PhoneNumbers", timeout=10).status_code == 401
        assert requests.get(base + "/openapi.json", timeout=10).json()["openapi"].startswith("3.")
        # each worker opened its own inbound connection after the fork
        deadline = time.monotonic() + 10
        while len([listener for listener in fake._listeners if listener.authed]) < 2:
            assert time.monotonic() < deadline, "the workers did not each connect to the switch"
            gevent.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("voxology-fs api did not stop on SIGTERM")
        fake.stop()
    # gunicorn went with it
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=2)
