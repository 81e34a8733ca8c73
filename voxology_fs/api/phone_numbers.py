"""Phone numbers: search the inventory, provision to CallFlows, list, release."""

from __future__ import annotations

from typing import Any

import phonenumbers
from flask import Blueprint, request

from .. import db, numbers
from ..models import CallerId, CallFlowConfig, PhoneNumber
from ..timeutil import utcnow
from .common import account_id, json_body, location, number_json, owned, page_of, paged, pagination, phone_number
from .errors import bad_field, conflict, not_found

bp = Blueprint("phone_numbers", __name__)

CAPABILITIES = ("voice", "sms")
SEARCH_BY = ("prefixes", "contains", "region", "country")
MAX_PROVISION = 100
_KEYPAD = {
    c: d
    for d, letters in {
        "2": "ABC",
        "3": "DEF",
        "4": "GHI",
        "5": "JKL",
        "6": "MNO",
        "7": "PQRS",
        "8": "TUV",
        "9": "WXYZ",
    }.items()
    for c in letters
}


def _caps_of(phone) -> set[str]:
    return {c.strip().lower() for c in (phone.capabilities or "").replace(";", ",").split(",") if c.strip()}


def _wanted_capabilities() -> set[str]:
    raw = request.args.get("capabilities", "")
    wanted = {c.strip().lower() for c in raw.split(",") if c.strip()}
    unknown = wanted - set(CAPABILITIES)
    if unknown:
        raise bad_field("capabilities", f"unknown capabilities {sorted(unknown)} (known: voice, sms)")
    return wanted


def _digits(text: str, field: str) -> str:
    out = "".join(_KEYPAD.get(c.upper(), c) for c in text if c not in " -().")
    if not out.isdigit() or len(out) > 15:
        raise bad_field(field, f"{field} must be digits (or keypad letters), at most 15")
    return out


@bp.get("/PhoneNumbers/Available")
def available():
    """Unassigned numbers of the inventory, filtered and paginated."""
    wanted = _wanted_capabilities()
    search_by = request.args.get("search_by", "")
    search_on = request.args.get("search_on", "")
    if search_by and search_by not in SEARCH_BY:
        raise bad_field("search_by", f"search_by must be one of {', '.join(SEARCH_BY)}")
    if search_by and not search_on.strip():
        raise bad_field("search_on", "search_on is required with search_by")
    country = request.args.get("country", "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise bad_field("country", "country must be a two-letter ISO code")
    page, size = pagination()

    query = PhoneNumber.select().where(PhoneNumber.account.is_null())
    if country:
        query = query.where(PhoneNumber.country == country)
    python_filter = None  # region search: a test on each number's geography
    if search_by == "prefixes":
        clauses = None
        for item in (p.strip() for p in search_on.split(",")):
            if not item:
                continue
            if item.startswith("+"):
                clause = PhoneNumber.number.startswith("+" + _digits(item[1:], "search_on"))
            else:
                # A prefix of the national number (an area code in North
                # America), in each country whose numbers the inventory has.
                prefix = _digits(item, "search_on")
                clause = None
                with db.database.connection_context():
                    countries = [r.country for r in PhoneNumber.select(PhoneNumber.country).distinct()]
                for region in countries or ["US"]:
                    code = phonenumbers.country_code_for_region(region) if region else 0
                    if not code:
                        continue
                    part = (PhoneNumber.country == region) & PhoneNumber.number.startswith(f"+{code}{prefix}")
                    clause = part if clause is None else clause | part
                if clause is None:
                    clause = PhoneNumber.number == ""
            clauses = clause if clauses is None else clauses | clause
        if clauses is None:
            raise bad_field("search_on", "search_on must list one or more prefixes")
        query = query.where(clauses)
    elif search_by == "contains":
        query = query.where(PhoneNumber.number.contains(_digits(search_on, "search_on")))
    elif search_by == "country":
        country = search_on.strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise bad_field("search_on", "with search_by=country, search_on is a two-letter ISO code")
        query = query.where(PhoneNumber.country == country)
    elif search_by == "region":
        target = search_on.strip().lower()

        def python_filter(phone):
            geo = location(phone.number)
            return target in (geo["region"].lower(), geo["city"].lower())

    with db.database.connection_context():
        rows = list(query.order_by(PhoneNumber.number))
    rows = [r for r in rows if wanted <= _caps_of(r) and (python_filter is None or python_filter(r))]
    chunk = rows[(page - 1) * size : page * size]
    return page_of("phone_numbers", [number_json(r) for r in chunk], page, size, len(rows))


@bp.post("/PhoneNumbers/CallFlows")
def provision():
    """Assign numbers of the inventory to the caller's application, all or none."""
    body = json_body()
    items = body.get("phone_numbers")
    if not isinstance(items, list) or not items:
        raise bad_field("phone_numbers", 'phone_numbers must be a non-empty array of {"no": ...}')
    if len(items) > MAX_PROVISION:
        raise bad_field("phone_numbers", f"at most {MAX_PROVISION} numbers at once")
    wanted: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_field(f"phone_numbers.{i}", 'each entry must be an object {"no": ...}')
        no = phone_number(item.get("no"), f"phone_numbers.{i}.no")
        if no not in wanted:
            wanted.append(no)
    from flask import g

    now = utcnow()
    with db.unit_of_work():
        for i, no in enumerate(wanted):
            phone = PhoneNumber.get_or_none(PhoneNumber.number == no)
            if phone is None or phone.service == "CallerID":
                raise not_found(f"{no} is not in the inventory", f"phone_numbers.{i}.no")
            if "voice" not in _caps_of(phone):
                raise bad_field(f"phone_numbers.{i}.no", f"{no} cannot take voice calls")
            changed = (
                PhoneNumber.update(
                    account=g.account_id, application=g.application_id, service="CallFlows", assigned_at=now
                )
                .where(PhoneNumber.number == no, PhoneNumber.account.is_null() | (PhoneNumber.account == g.account_id))
                .execute()
            )
            if changed != 1:
                raise conflict(f"{no} is taken", f"phone_numbers.{i}.no")
        rows = list(PhoneNumber.select().where(PhoneNumber.number.in_(wanted)).order_by(PhoneNumber.number))
    return {"phone_numbers": [number_json(r) for r in rows]}, 201


def owned_number(no: str, field: str = "no") -> PhoneNumber:
    number = phone_number(no, field)
    return owned(PhoneNumber, PhoneNumber.number == number, f"{number} is not a number of this account", field)


@bp.get("/PhoneNumbers")
def list_numbers():
    query = PhoneNumber.select().where(PhoneNumber.account == account_id())
    return paged("phone_numbers", query, [PhoneNumber.number], number_json)


@bp.get("/PhoneNumbers/<no>")
def get_number(no):
    phone = owned_number(no)
    doc = number_json(phone)
    with db.database.connection_context():
        config = CallFlowConfig.get_or_none(CallFlowConfig.phone_number == phone.number)
    from .common import config_json

    doc["call_flow_configuration"] = config_json(config) if config else None
    return doc


@bp.delete("/PhoneNumbers/<no>")
def release_number(no):
    phone = owned_number(no)
    with db.unit_of_work():
        CallFlowConfig.delete().where(CallFlowConfig.phone_number == phone.number).execute()
        if phone.service == "CallerID":
            # A verified caller ID is not inventory: it goes, with its proof.
            PhoneNumber.delete().where(PhoneNumber.number == phone.number).execute()
            CallerId.delete().where(CallerId.account == account_id(), CallerId.number == phone.number).execute()
        else:
            (
                PhoneNumber.update(account=None, application=None, service=None, assigned_at=None)
                .where(PhoneNumber.number == phone.number, PhoneNumber.account == account_id())
                .execute()
            )
    return "", 204


@bp.get("/PhoneNumberInformation/<no>")
def information(no):
    number = phone_number(no, "no")
    include = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    unknown = include - {"location"}
    if unknown:
        raise bad_field("include", f"unknown include {sorted(unknown)} (known: location)")
    parsed = phonenumbers.parse(number, None)
    kind = phonenumbers.number_type(parsed)
    names = {v: k.lower() for k, v in vars(phonenumbers.PhoneNumberType).items() if k.isupper()}
    doc: dict[str, Any] = {
        "no": number,
        "country_code": parsed.country_code,
        "national_number": str(parsed.national_number),
        "valid": phonenumbers.is_valid_number(parsed),
        "type": names.get(kind, "unknown"),
        "country": numbers.geography(number).country,
    }
    if "location" in include:
        doc["location"] = location(number)
    return doc
