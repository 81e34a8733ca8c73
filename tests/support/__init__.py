"""Helpers shared by the tests and the benchmarks in ``scripts/``.

Fixtures stay in the ``conftest.py`` files and call these; test modules
import from here, never from one another.

* ``provision``: accounts, applications, numbers, call-flow configurations.
* ``rest``: the REST API through the Flask test client with an account's key.
* ``rig``: call server, fake switch and REST app wired together.
* ``callbacks``: a customer's web server on loopback.
* ``database``: the test database, migrated and emptied.
* ``waiting``: waiting for a condition another greenlet or process makes true.
* ``audio``: G.711 u-law decoding and loudness.
* ``media``: the caller's RTP port and an ESL watcher, for the real-switch tests.
* ``run_freeswitch``: ``scripts/run-freeswitch`` as a module.
* ``multiproc``: child processes of a multi-process test.
* ``procstat``: CPU time and memory of processes, for the benchmarks.
"""
