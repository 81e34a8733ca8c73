"""Waiting for something that another greenlet or process makes true."""

import time

import gevent


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Whether predicate() came true within timeout seconds (checked every step)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        gevent.sleep(step)
