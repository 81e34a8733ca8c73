"""The ``voxology-fs`` command.

voxology-fs serve            call server and REST API together
voxology-fs callserver       the outbound socket server only
voxology-fs db upgrade       create or migrate the database
voxology-fs simulate FLOW    run a flow against a simulated call
voxology-fs api              the REST API only
voxology-fs account create NAME [--parent ID]
voxology-fs app create --account ID [NAME]     prints the API key once
voxology-fs key rotate|revoke APP_ID
voxology-fs numbers import FILE.csv            number,capabilities[,country]
"""

from __future__ import annotations

# gevent must patch sockets, ssl and threads before anything imports them
# (requests, the database drivers).
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from . import settings as settings_mod  # noqa: E402


def _load_settings(args):
    try:
        return settings_mod.load(getattr(args, "config", None))
    except settings_mod.SettingsError as exc:
        sys.exit(f"voxology-fs: {exc}")


def _open_database(settings, background_checkpoints: bool = False):
    from . import db

    db.connect(settings.database_url, settings.database_pool_size, background_checkpoints)
    return db


def cmd_db(args) -> int:
    settings = _load_settings(args)
    db = _open_database(settings)
    applied = db.migrate()
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def _start_call_server(args):
    settings = _load_settings(args)
    # No SQLite checkpoint inside a call's commit (see db.WalCheckpointer).
    _open_database(settings, background_checkpoints=True).migrate()
    from .callserver import CallServer

    server = CallServer(settings)
    from .heap import freeze_startup_objects

    freeze_startup_objects()
    server.start()
    print(f"call server on {settings.outbound_host}:{server.port}", flush=True)
    return settings, server


def cmd_callserver(args) -> int:
    _, server = _start_call_server(args)
    stopping = _stop_on_signals()
    serving = gevent.spawn(server.serve_forever)
    try:
        gevent.wait([stopping, serving], count=1)
    finally:
        server.stop()
        serving.kill()
    print("call server stopped: " + server.stats.summary(), flush=True)
    return 0


def _stop_on_signals():
    """An event set by SIGTERM or SIGINT (both, even where the shell that
    started us ignores SIGINT, as it does for background jobs)."""
    stopping = gevent.event.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stopping.set)
    return stopping


def cmd_serve(args) -> int:
    """The call server and the REST API (gunicorn) together, until a signal stops them."""
    from .api import serve_api

    settings, server = _start_call_server(args)
    stopping = _stop_on_signals()
    call_server = gevent.spawn(server.serve_forever)
    api = gevent.spawn(serve_api, settings)
    print(f"REST API on http://{settings.api_host}:{settings.api_port}/v1", flush=True)
    try:
        # Whichever ends first (a signal, or one of the two failing) ends both.
        gevent.wait([stopping, call_server, api], count=1)
    finally:
        api.kill()  # its own clean-up stops gunicorn
        server.stop()
        call_server.kill()
    print("stopped: " + server.stats.summary(), flush=True)
    return 0


def cmd_simulate(args) -> int:
    from .simulate import main

    return main(args)


def _operator(args):
    """The operator module with the database open and migrated."""
    settings = _load_settings(args)
    _open_database(settings).migrate()
    from . import operator

    return operator, settings


def cmd_account(args) -> int:
    operator, _ = _operator(args)
    try:
        account = operator.create_account(args.name, args.parent)
    except operator.OperatorError as exc:
        sys.exit(f"voxology-fs: {exc}")
    print(f"account {account.id} ({account.name})")
    return 0


def cmd_app(args) -> int:
    operator, _ = _operator(args)
    try:
        app, key = operator.create_application(args.account, args.name)
    except operator.OperatorError as exc:
        sys.exit(f"voxology-fs: {exc}")
    print(f"application {app.id} ({app.name}) of account {app.account_id}")
    print(f"API key (shown only now; keep it secret): {key}")
    return 0


def cmd_key(args) -> int:
    operator, _ = _operator(args)
    try:
        if args.action == "rotate":
            key = operator.rotate_key(args.application)
            print(f"new API key for application {args.application} (the old one no longer works): {key}")
        else:
            operator.revoke_key(args.application)
            print(f"application {args.application} has no API key now")
    except operator.OperatorError as exc:
        sys.exit(f"voxology-fs: {exc}")
    return 0


def cmd_numbers(args) -> int:
    operator, settings = _operator(args)
    try:
        with open(args.file, encoding="utf-8-sig") as fh:
            counts = operator.import_numbers(fh.read(), settings.default_region)
    except OSError as exc:
        sys.exit(f"voxology-fs: {args.file}: {exc.strerror}")
    except operator.OperatorError as exc:
        sys.exit(f"voxology-fs: {args.file}: {exc}")
    print(f"{counts['created']} numbers added to the inventory, {counts['updated']} updated")
    return 0


def cmd_api(args) -> int:
    settings = _load_settings(args)
    _open_database(settings).migrate()
    from .api import serve_api

    print(f"REST API on http://{settings.api_host}:{settings.api_port}/v1", flush=True)
    return serve_api(settings) or 0


def _add_operator_commands(sub) -> None:
    account = sub.add_parser("account", help="accounts of the platform")
    account_sub = account.add_subparsers(dest="action", required=True)
    create = account_sub.add_parser("create", help="create an account (or a subaccount with --parent)")
    create.add_argument("name")
    create.add_argument("--parent", help="the parent account's id, for a subaccount")
    create.set_defaults(func=cmd_account)

    app = sub.add_parser("app", help="applications and their API keys")
    app_sub = app.add_subparsers(dest="action", required=True)
    create = app_sub.add_parser("create", help="create an application; prints its API key once")
    create.add_argument("--account", required=True, help="the account's id")
    create.add_argument("name", nargs="?", default="default")
    create.set_defaults(func=cmd_app)

    key = sub.add_parser("key", help="rotate or revoke an application's API key")
    key.add_argument("action", choices=["rotate", "revoke"])
    key.add_argument("application", help="the application's id")
    key.set_defaults(func=cmd_key)

    nums = sub.add_parser("numbers", help="the inventory of numbers (DIDs)")
    nums_sub = nums.add_subparsers(dest="action", required=True)
    imp = nums_sub.add_parser("import", help="import number,capabilities[,country] rows from a CSV file")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_numbers)

    sub.add_parser("api", help="run the REST API only").set_defaults(func=cmd_api)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxology-fs", description="Self-hosted programmable voice on FreeSWITCH")
    parser.add_argument("--config", help="TOML settings file (default: $VOXOLOGY_CONFIG)")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the call server and the REST API").set_defaults(func=cmd_serve)
    sub.add_parser("callserver", help="run the outbound socket call server").set_defaults(func=cmd_callserver)
    db_parser = sub.add_parser("db", help="database schema")
    db_parser.add_argument("action", choices=["upgrade"])
    db_parser.set_defaults(func=cmd_db)

    _add_operator_commands(sub)

    sim = sub.add_parser("simulate", help="run a call flow against a simulated call")
    sim.add_argument("flow", help="a flow JSON file, or the http(s) URL of a callback server")
    sim.add_argument(
        "--press",
        action="append",
        metavar="KEYS",
        help="keys for the next COLLECT (repeat for each COLLECT), e.g. --press 1 --press 42#",
    )
    sim.add_argument("--caller", default="+19495551212")
    sim.add_argument("--called", default="+17145551212")
    sim.add_argument("--session-data", help="session_data as JSON")
    sim.add_argument("--method", default="POST", choices=["GET", "POST"])
    sim.add_argument("--content-type", default="application/json")
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
