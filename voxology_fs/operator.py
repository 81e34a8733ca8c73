"""What the platform's operator does from the command line.

Accounts (and subaccounts), applications and their API keys (printed once,
stored as a SHA-256 hash), and the inventory of numbers the SIP trunk
delivers, imported from CSV.
"""

from __future__ import annotations

import csv
import io

import phonenumbers

from . import db, numbers
from .api.auth import hash_key, new_key
from .models import Account, Application, PhoneNumber

CAPABILITIES = ("voice", "sms")


class OperatorError(ValueError):
    pass


def create_account(name: str, parent_id: str | None = None) -> Account:
    if not name.strip():
        raise OperatorError("an account needs a name")
    with db.unit_of_work():
        if parent_id and Account.get_or_none(Account.id == parent_id) is None:
            raise OperatorError(f"no account {parent_id}")
        return Account.create(name=name.strip(), parent=parent_id or None)


def create_application(account_id: str, name: str) -> tuple[Application, str]:
    """A new application and its API key (the only time the key is seen)."""
    key = new_key()
    with db.unit_of_work():
        if Account.get_or_none(Account.id == account_id) is None:
            raise OperatorError(f"no account {account_id}")
        app = Application.create(
            account=account_id, name=name.strip() or "default", api_key_hash=hash_key(key), api_key_prefix=key[:12]
        )
    return app, key


def rotate_key(application_id: str) -> str:
    """Replace the application's key; the old one stops working at once."""
    key = new_key()
    with db.unit_of_work():
        changed = (
            Application.update(api_key_hash=hash_key(key), api_key_prefix=key[:12])
            .where(Application.id == application_id)
            .execute()
        )
    if not changed:
        raise OperatorError(f"no application {application_id}")
    return key


def revoke_key(application_id: str) -> None:
    with db.unit_of_work():
        changed = (
            Application.update(api_key_hash=None, api_key_prefix=None).where(Application.id == application_id).execute()
        )
    if not changed:
        raise OperatorError(f"no application {application_id}")


def parse_capabilities(text: str) -> str:
    caps = [c.strip().lower() for c in (text or "voice").replace(";", ",").replace(" ", ",").split(",") if c.strip()]
    unknown = [c for c in caps if c not in CAPABILITIES]
    if unknown:
        raise OperatorError(f"unknown capabilities {unknown} (known: voice, sms)")
    return ",".join(c for c in CAPABILITIES if c in caps)


def import_numbers(text: str, default_region: str = "US") -> dict:
    """Import ``number,capabilities[,country]`` rows (a header row is optional).

    New numbers join the inventory unassigned; known numbers get the
    capabilities of the file and keep their owner.  Returns counts and the
    rows that could not be read (with their line numbers); nothing is
    written if any row is bad.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0] and numbers.try_normalize(rows[0][0], default_region) is None:
        header = [h.strip().lower() for h in rows[0]]
        rows = rows[1:]
        index = {name: header.index(name) for name in header}
        number_col = index.get("number", index.get("no", 0))
        caps_col = index.get("capabilities", 1)
        country_col = index.get("country")
        first_line = 2
    else:
        number_col, caps_col, country_col, first_line = 0, 1, 2, 1
    parsed, problems = [], []
    for line, row in enumerate(rows, first_line):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        try:
            number = numbers.normalize(row[number_col], default_region)
            caps = parse_capabilities(row[caps_col] if caps_col < len(row) else "voice")
        except (numbers.InvalidNumber, OperatorError, IndexError) as exc:
            problems.append(f"line {line}: {exc}")
            continue
        country = (
            row[country_col].strip().upper()
            if country_col is not None and country_col < len(row) and row[country_col].strip()
            else phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
        )
        parsed.append((number, caps, country))
    if problems:
        raise OperatorError("; ".join(problems))
    created = updated = 0
    with db.unit_of_work():
        for number, caps, country in parsed:
            phone = PhoneNumber.get_or_none(PhoneNumber.number == number)
            if phone is None:
                PhoneNumber.create(number=number, capabilities=caps, country=country)
                created += 1
            else:
                PhoneNumber.update(capabilities=caps, country=country).where(PhoneNumber.number == number).execute()
                updated += 1
    return {"created": created, "updated": updated}
