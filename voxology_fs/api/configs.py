"""Call Flow Configurations: where a number's calls fetch their actions."""

from __future__ import annotations

from flask import Blueprint

from .. import db
from ..callbacks import CONTENT_TYPES
from ..models import CallFlowConfig
from ..timeutil import utcnow
from .common import config_json, json_body, method_field, obj, string, url_field
from .errors import bad_field, not_found
from .phone_numbers import owned_number

bp = Blueprint("configs", __name__)


@bp.put("/CallFlows/Configurations/PhoneNumbers/<no>")
def put_config(no):
    phone = owned_number(no)
    body = json_body()
    callback = obj(body, "callback", "callback", required=True)
    method = method_field(callback, "callback.method", "POST")
    url = url_field(callback, "callback.url", required=True)
    content_type = string(callback, "content_type", "callback.content_type", max_length=64) or "application/json"
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise bad_field("callback.content_type", "callback.content_type must be one of " + ", ".join(CONTENT_TYPES))
    fallback_url, fallback_method = None, None
    fallback = obj(body, "fallback", "fallback")
    if fallback is not None:
        fallback_url = url_field(fallback, "fallback.url", required=True)
        fallback_method = method_field(fallback, "fallback.method", method)
    elif callback.get("fallback_url") is not None:
        fallback_url = url_field(callback, "callback.fallback_url", required=True, key="fallback_url")
        fallback_method = method_field(callback, "callback.fallback_method", method, key="fallback_method")
    values = dict(
        method=method,
        url=url,
        content_type=content_type,
        fallback_url=fallback_url,
        fallback_method=fallback_method,
        updated_at=utcnow(),
    )
    with db.unit_of_work():
        changed = CallFlowConfig.update(**values).where(CallFlowConfig.phone_number == phone.number).execute()
        if not changed:
            CallFlowConfig.insert(phone_number=phone.number, **values).on_conflict(
                conflict_target=[CallFlowConfig.phone_number], update=values
            ).execute()
        config = CallFlowConfig.get(CallFlowConfig.phone_number == phone.number)
    return config_json(config)


@bp.get("/CallFlows/Configurations/PhoneNumbers/<no>")
def get_config(no):
    phone = owned_number(no)
    with db.database.connection_context():
        config = CallFlowConfig.get_or_none(CallFlowConfig.phone_number == phone.number)
    if config is None:
        raise not_found(f"{phone.number} has no call flow configuration", "no")
    return config_json(config)


@bp.delete("/CallFlows/Configurations/PhoneNumbers/<no>")
def delete_config(no):
    phone = owned_number(no)
    with db.unit_of_work():
        deleted = CallFlowConfig.delete().where(CallFlowConfig.phone_number == phone.number).execute()
    if not deleted:
        raise not_found(f"{phone.number} has no call flow configuration", "no")
    return "", 204
