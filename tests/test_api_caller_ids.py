"""Caller IDs: a verification call speaks a code; the user types it back."""

import re

from tests.support.provision import DID, FAR, HELLO
from tests.support.rest import enc
from tests.support.rig import of_type
from tests.support.waiting import wait_until
from voxology_fs import models

MOBILE = "+13105550142"


def spoken_code(rig, number):
    assert wait_until(lambda: calls_for(rig, number) and calls_for(rig, number)[-1].spoken, 5)
    text = calls_for(rig, number)[-1].spoken[-1]
    return "".join(re.search(r"code is ([0-9 ]+)\.", text).group(1).split())


def calls_for(rig, number):
    return [c for c in rig.fake.calls.values() if c.destination == number]


def test_add_verify_and_call_from_a_caller_id(rig, callback_server):
    acme = rig.client()
    r = acme.post("/CallerIds", {"no": "(310) 555-0142"})
    assert r.status_code == 201 and r.get_json()["verified"] is False and r.get_json()["no"] == MOBILE
    code = spoken_code(rig, MOBILE)
    assert len(code) == 6
    originate = next(c for c in rig.fake.api_log if c.startswith("originate") and MOBILE in c)
    assert "vox_call_id" not in originate  # no call server, no call record: the code stays out of the API
    assert models.Call.select().count() == 0
    assert code not in str(acme.get("/CallerIds").get_json())
    # not verified yet: cannot call from it
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": MOBILE}})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "call.caller_id_no"
    wrong = "000000" if code != "000000" else "111111"
    r = acme.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": wrong})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "code"
    r = acme.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": code})
    assert r.status_code == 200 and r.get_json()["verified"] is True
    assert [c["no"] for c in acme.get("/CallerIds").get_json()["caller_ids"]] == [MOBILE]
    # verified, but Make Call needs its Call Flow Configuration
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": MOBILE}})
    assert r.status_code == 400 and "configuration" in r.get_json()["error"]["message"]
    url = callback_server.static("/hello", HELLO)
    assert (
        acme.put("/CallFlows/Configurations/PhoneNumbers/" + enc(MOBILE), {"callback": {"url": url}}).status_code == 200
    )
    r = acme.post("/Dials/Connect", {"call": {"no": FAR, "caller_id_no": MOBILE}})
    assert r.status_code == 201
    assert wait_until(lambda: of_type(callback_server, "call_ended"), 10)
    assert of_type(callback_server, "init_call")[0]["api_no"] == MOBILE
    # a caller ID is not inventory: deleting it leaves nothing behind
    assert acme.delete("/CallerIds/" + enc(MOBILE)).status_code == 204
    assert models.PhoneNumber.get_or_none(models.PhoneNumber.number == MOBILE) is None
    assert acme.get("/CallerIds/" + enc(MOBILE)).status_code == 404
    assert MOBILE not in str(acme.get("/PhoneNumbers/Available").get_json())


def test_caller_id_errors_and_isolation(rig):
    acme, other = rig.client("acme"), rig.client("other")
    assert acme.post("/CallerIds", {}).get_json()["error"]["field"] == "no"
    assert acme.post("/CallerIds", {"no": "12"}).status_code == 400
    assert acme.post("/CallerIds", {"no": DID}).status_code == 409  # inventory numbers are provisioned instead
    assert acme.post("/CallerIds", {"no": MOBILE}).status_code == 201
    code = spoken_code(rig, MOBILE)
    assert other.get("/CallerIds").get_json()["caller_ids"] == []
    assert other.get("/CallerIds/" + enc(MOBILE)).status_code == 404
    assert other.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": code}).status_code == 404
    assert other.post(f"/CallerIds/{enc(MOBILE)}/Call").status_code == 404
    assert other.delete("/CallerIds/" + enc(MOBILE)).status_code == 404
    for _ in range(5):
        acme.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": "x"})
    r = acme.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": code})
    assert r.status_code == 409  # too many wrong codes
    assert acme.post(f"/CallerIds/{enc(MOBILE)}/Call").status_code == 202
    assert wait_until(lambda: len(calls_for(rig, MOBILE)) == 2 and calls_for(rig, MOBILE)[-1].spoken)
    code = spoken_code(rig, MOBILE)
    assert acme.post(f"/CallerIds/{enc(MOBILE)}/Verify", {"code": code}).status_code == 200
    assert acme.post(f"/CallerIds/{enc(MOBILE)}/Call").status_code == 409
