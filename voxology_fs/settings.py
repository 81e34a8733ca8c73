"""All settings in one place.

Settings come from defaults, then an optional TOML file (``--config`` or
``VOXOLOGY_CONFIG``), then environment variables ``VOXOLOGY_<NAME>`` (and the
conventional ``DATABASE_URL``).  Nothing else in the package reads the
environment or a config file: components receive a :class:`Settings`.

Example file::

    database_url = "postgresql://voxology@127.0.0.1/voxology"
    outbound_port = 8084

    [[switch]]
    name = "fs1"
    host = "127.0.0.1"
    port = 8021
    password = "ClueCon"
    dial_string = "sofia/gateway/trunk/{number}"
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Switch:
    """One FreeSWITCH server: its inbound ESL address and how it dials out."""

    name: str = "fs1"
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    # ``{number}`` is replaced with the E.164 number being called.
    dial_string: str = "sofia/gateway/trunk/{number}"
    # ``{uri}`` is replaced with a ``sip:`` URI a TRANSFER dials (our SIP profile).
    sip_dial_string: str = "sofia/voxology/{uri}"
    # Where this switch sends a text message (SIP MESSAGE) for a number: the trunk.
    sms_uri: str = "sip:{number}@127.0.0.1:5080"
    # Where this switch reaches the call server's socket (``host:port``) for
    # calls placed by Make Call; empty: ``outbound_host:outbound_port``.
    socket_address: str = ""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/voxology.sqlite3"
    database_pool_size: int = 20

    # The outbound ESL socket server that FreeSWITCH's dialplan hands calls to.
    outbound_host: str = "127.0.0.1"
    outbound_port: int = 8084
    # Calls handled at once by one call-server process; above it calls get SIP 503.
    max_calls: int = 2000
    # Seconds to wait for FreeSWITCH to acknowledge one command.
    esl_command_timeout: float = 10.0

    switches: tuple[Switch, ...] = (Switch(),)

    # The REST API.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # gunicorn gevent worker processes (0: serve in this process, no gunicorn).
    api_workers: int = 2
    # Requests per second allowed to one API key in one worker (0: no limit),
    # and the burst above that rate; over it the API answers 429.
    api_rate_limit: float = 50.0
    api_rate_burst: int = 100
    # Largest page a list endpoint returns.
    api_max_page_size: int = 200
    # Inbound ESL: the first reconnection delay and the largest (seconds).
    esl_reconnect_min: float = 0.5
    esl_reconnect_max: float = 30.0
    # Calls still "queued" this long after their ring timeout, whose channel
    # the switch no longer has, are finished as failed by the switch watcher.
    stale_call_grace: float = 60.0
    # A live call whose channel hung up is finished by the switch watchers
    # this many seconds later if no call server has (its call server died).
    # Longer than a callback's worst case, so a slow call server still wins.
    orphaned_call_grace: float = 45.0
    # Caller ID verification: the code's length and lifetime, and the text
    # spoken (``{code}`` is replaced by the digits, spaced out).
    verification_code_length: int = 6
    verification_ttl: int = 600
    verification_text: str = "Your verification code is {code}. Again, your code is {code}. Goodbye."
    # The number verification calls show as their caller (empty: the number itself).
    verification_caller_id: str = ""

    # Callbacks to the customer's server.
    callback_connect_timeout: float = 3.0
    callback_timeout: float = 10.0
    callback_retries: int = 1
    callback_retry_backoff: float = 0.25
    # A call whose flow keeps coming back for more (a static script with no
    # HANGUP) is ended after this many callback requests.
    max_callbacks_per_call: int = 100
    # Control-flow steps (GOTO, IF, FOREACH...) one response may take without
    # any media action in between: guards against ``GOTO`` loops.
    max_flow_steps: int = 10000
    apology_text: str = "We are sorry, an application error has occurred. Goodbye."
    # Calls an account may have placed and not yet ended (Make Call, DIAL,
    # TRANSFER's dialled legs), and how many DIALs deep a chain may go (a
    # call, the call it placed, and that one's: 3).
    max_outbound_calls_per_account: int = 100
    max_dial_depth: int = 3
    # Hosts a TRANSFER may dial by sip: URI (none: numbers only).
    sip_transfer_domains: tuple[str, ...] = ()

    # SMS: the only source addresses a SIP MESSAGE is taken from (the trunk's;
    # sofia applies no ACL to MESSAGE), and the longest text sent.
    sms_trunk_addresses: tuple[str, ...] = ("127.0.0.1",)
    max_sms_length: int = 1600
    # An HTTP SMS provider instead of the switch (empty: SIP MESSAGE through
    # the switch). Each text is one request: the URL and ``name=template``
    # fields with {to} {from} {text} {message_id} {receipt_url}, sent as JSON
    # or a form, with basic-auth credentials or a bearer token.  The provider's
    # delivery receipts go to {receipt_url} (signed; ``sms_receipt_status_field``
    # names its status field).
    sms_provider_url: str = ""
    sms_provider_method: str = "POST"
    sms_provider_format: str = "json"
    sms_provider_fields: tuple[str, ...] = (
        "to={to}",
        "from={from}",
        "text={text}",
        "status_callback={receipt_url}",
    )
    sms_provider_user: str = ""
    sms_provider_password: str = ""
    sms_provider_token: str = ""
    sms_provider_timeout: float = 10.0
    sms_receipt_status_field: str = "status"

    # Numbers written without a country code are read in this region.
    default_region: str = "US"
    sip_domain: str = ""

    tts_engine: str = "flite"
    tts_voice: str = "kal"

    audio_cache_dir: str = "var/audio-cache"
    audio_max_bytes: int = 50 * 1024 * 1024
    audio_fetch_timeout: float = 10.0
    # Recordings: the store folder (the switch writes into it: same host or a
    # shared mount), the level under which a frame is silence (FreeSWITCH's
    # energy scale), and signed audio URLs: the API's public base URL (empty:
    # http://api_host:api_port), their lifetime (s) and key (empty: one kept
    # in the database, shared by every process).
    recordings_dir: str = "var/recordings"
    recording_silence_threshold: int = 200
    public_base_url: str = ""
    recording_url_ttl: int = 7 * 24 * 3600
    recording_url_secret: str = ""
    # An S3-compatible bucket that completed recordings move to (empty: they
    # stay in recordings_dir). Empty keys: boto3's own credential chain.
    recordings_s3_bucket: str = ""
    recordings_s3_endpoint_url: str = ""
    recordings_s3_region: str = "us-east-1"
    recordings_s3_access_key: str = ""
    recordings_s3_secret_key: str = ""
    recordings_s3_prefix: str = ""

    # The answering-machine detector's finer thresholds, as name=value pairs
    # over voxology_fs.detection.DetectorSettings (e.g. "activity_db=8").
    detector_thresholds: tuple[str, ...] = ()

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


_SCALARS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "switches"}


def _coerce(name: str, value, kind):
    if kind == "tuple[str, ...]":
        # A TOML list, or a comma-separated environment variable.
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise SettingsError(f"setting {name!r}: expected a list of strings, got {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if kind in (int, "int"):
        kind = int
    elif kind in (float, "float"):
        kind = float
    elif kind in (str, "str"):
        kind = str
    try:
        if isinstance(value, str) and kind is not str:
            return kind(value.strip())
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r}: expected {kind.__name__}, got {value!r}") from None


def _switch_from(mapping: dict, where: str) -> Switch:
    known = {f.name: f.type for f in dataclasses.fields(Switch)}
    unknown = set(mapping) - set(known)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {sorted(unknown)}")
    return Switch(**{k: _coerce(f"{where}.{k}", v, known[k]) for k, v in mapping.items()})


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from defaults, a TOML file and the environment."""
    env = os.environ if env is None else env
    values: dict = {}
    path = path or env.get("VOXOLOGY_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(f"config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
        switches = data.pop("switch", None)
        for key, value in data.items():
            if key not in _SCALARS:
                raise SettingsError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, value, _SCALARS[key].type)
        if switches is not None:
            values["switches"] = tuple(_switch_from(s, f"switch[{i}]") for i, s in enumerate(switches))

    for key, f in _SCALARS.items():
        raw = env.get("VOXOLOGY_" + key.upper())
        if raw is not None:
            values[key] = _coerce(key, raw, f.type)
    if env.get("DATABASE_URL") and "VOXOLOGY_DATABASE_URL" not in env:
        values["database_url"] = env["DATABASE_URL"]

    # A single switch can be given entirely by environment variables.
    switch_env = {
        k: env[f"VOXOLOGY_ESL_{k.upper()}"]
        for k in ("name", "host", "port", "password", "dial_string")
        if f"VOXOLOGY_ESL_{k.upper()}" in env
    }
    if switch_env:
        base = dataclasses.asdict(values.get("switches", (Switch(),))[0])
        base.update(switch_env)
        values["switches"] = (_switch_from(base, "VOXOLOGY_ESL_*"),)

    settings = Settings(**values)
    from .detection.settings import detector_settings_from

    try:
        detector_settings_from(settings.detector_thresholds)
    except ValueError as exc:
        raise SettingsError(f"setting {exc}") from None
    if not settings.switches:
        raise SettingsError("at least one [[switch]] is needed")
    names = [s.name for s in settings.switches]
    if len(set(names)) != len(names):
        raise SettingsError(f"switch names must be unique: {names}")
    return settings
