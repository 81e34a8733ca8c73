"""An S3-compatible server for tests: moto's, run as a process of its own on loopback."""

import contextlib
import socket
import subprocess
import sys
import time
import uuid

import boto3

KEYS = {"recordings_s3_access_key": "test", "recordings_s3_secret_key": "test"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def s3_server():
    """Its endpoint URL, while it runs."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def new_bucket(endpoint: str):
    """A fresh bucket: (a client, its name)."""
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    name = f"rec-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name
