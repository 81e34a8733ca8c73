"""Caller IDs: numbers an account may call from without owning them.

Adding one places a verification call to it that speaks a code; the user
sends the code back (``POST /v1/CallerIds/{no}/Verify``).  The code is
never returned by the API and only its hash is stored, so a caller ID is
verified only by someone who answered that phone.  A verified caller ID
becomes a number of the account (service ``CallerID``) that can carry a
Call Flow Configuration, as Make Call requires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import Blueprint

from .. import db
from ..esl import args as fsargs
from ..esl import dial
from ..models import CallerId, CallFlowConfig, PhoneNumber, new_id
from ..timeutil import iso, utcnow
from .common import account_id, json_body, owned, paged, phone_number, settings, string, switch_errors, switches
from .errors import bad_field, conflict

bp = Blueprint("caller_ids", __name__)
MAX_ATTEMPTS = 5


def _hash(record_id: str, code: str) -> str:
    return hashlib.sha256(f"{record_id}:{code}".encode()).hexdigest()


def caller_id_json(record: CallerId) -> dict:
    return {
        "no": record.number,
        "verified": record.verified,
        "verified_at": iso(record.verified_at),
        "created_at": iso(record.created_at),
        "verification_expires_at": None if record.verified else iso(record.code_expires_at),
    }


def verification_command(cfg, switch, number: str, code: str, caller_id: str) -> str:
    """``originate`` of a call that speaks the code: digits of ours only, no call server."""
    if not code.isdigit():
        raise ValueError("unsafe verification call")
    spoken = " ".join(code)
    text = cfg.verification_text.replace("{code}", spoken)
    text = "".join(c for c in text if c.isalnum() or c in " .,")  # operator text, kept to words
    speak = fsargs.speak_arg(cfg.tts_engine, cfg.tts_voice, text)
    variables = {
        "origination_uuid": dial.check_uuid(new_id()),
        "app_disable_expand_variables": True,
        "origination_caller_id_number": dial.check_number(caller_id),
        "originate_timeout": 60,
    }
    return dial.originate_command(
        dial.dial_string(switch.dial_string, number, variables), dial.inline_app("speak", speak)
    )


def _place_verification(record: CallerId) -> None:
    cfg = settings()
    code = "".join(secrets.choice("0123456789") for _ in range(max(4, cfg.verification_code_length)))
    with db.unit_of_work():
        (
            CallerId.update(
                code_hash=_hash(record.id, code),
                attempts=0,
                code_expires_at=utcnow() + dt.timedelta(seconds=cfg.verification_ttl),
            )
            .where(CallerId.id == record.id)
            .execute()
        )
    with switch_errors():
        link = switches().pick()
        link.bgapi(
            verification_command(cfg, link.switch, record.number, code, cfg.verification_caller_id or record.number)
        )


def _owned(no: str) -> CallerId:
    number = phone_number(no, "no")
    return owned(CallerId, CallerId.number == number, f"{number} is not a caller ID of this account", "no")


@bp.post("/CallerIds")
def add_caller_id():
    body = json_body()
    if body.get("no") is None:
        raise bad_field("no", "no is required")
    number = phone_number(body.get("no"), "no")
    with db.database.connection_context():
        phone = PhoneNumber.get_or_none(PhoneNumber.number == number)
        if phone is not None and phone.account_id != account_id():
            raise conflict(f"{number} is a number of the platform's inventory; provision it instead", "no")
        if phone is not None and phone.service != "CallerID":
            raise conflict(f"{number} is already a number of this account", "no")
        record = CallerId.get_or_none(CallerId.account == account_id(), CallerId.number == number)
    if record is not None and record.verified:
        return caller_id_json(record), 200
    if record is None:
        with db.unit_of_work():
            record = CallerId.create(account=account_id(), number=number)
    _place_verification(record)
    with db.database.connection_context():
        record = CallerId.get(CallerId.id == record.id)
    return caller_id_json(record), 201


@bp.post("/CallerIds/<no>/Call")
def call_again(no):
    json_body(required=False)
    record = _owned(no)
    if record.verified:
        raise conflict(f"{record.number} is verified already", "no")
    _place_verification(record)
    return caller_id_json(_owned(no)), 202


@bp.post("/CallerIds/<no>/Verify")
def verify(no):
    body = json_body()
    code = string(body, "code", "code", required=True, max_length=16)
    record = _owned(no)
    if record.verified:
        return caller_id_json(record)
    if not record.code_hash or record.code_expires_at is None or record.code_expires_at < utcnow():
        raise conflict("no verification code is pending; place a new verification call", "code")
    if record.attempts >= MAX_ATTEMPTS:
        raise conflict("too many wrong codes; place a new verification call", "code")
    if not secrets.compare_digest(_hash(record.id, code.strip()), record.code_hash):
        with db.unit_of_work():
            CallerId.update(attempts=CallerId.attempts + 1).where(CallerId.id == record.id).execute()
        raise bad_field("code", "the code is not the one spoken")
    now = utcnow()
    with db.unit_of_work():
        CallerId.update(verified=True, verified_at=now, code_hash=None).where(CallerId.id == record.id).execute()
        if PhoneNumber.get_or_none(PhoneNumber.number == record.number) is None:
            from flask import g

            PhoneNumber.create(
                number=record.number,
                capabilities="voice",
                country="",
                account=account_id(),
                application=g.application_id,
                service="CallerID",
                assigned_at=now,
            )
    return caller_id_json(_owned(no))


@bp.get("/CallerIds")
def list_caller_ids():
    query = CallerId.select().where(CallerId.account == account_id())
    return paged("caller_ids", query, [CallerId.number], caller_id_json)


@bp.get("/CallerIds/<no>")
def get_caller_id(no):
    return caller_id_json(_owned(no))


@bp.delete("/CallerIds/<no>")
def delete_caller_id(no):
    record = _owned(no)
    with db.unit_of_work():
        phone = PhoneNumber.get_or_none(
            PhoneNumber.number == record.number, PhoneNumber.account == account_id(), PhoneNumber.service == "CallerID"
        )
        if phone is not None:
            CallFlowConfig.delete().where(CallFlowConfig.phone_number == phone.number).execute()
            phone.delete_instance()
        CallerId.delete().where(CallerId.id == record.id).execute()
    return "", 204
