"""The data model, shared by the call server and the REST API.

Every resource belongs to an account.  Numbers are stored in E.164.  Times
are UTC.  Changing a model means adding a migration in ``migrations/``
(``voxology-fs db upgrade`` applies them on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import json
import uuid

import peewee

from .db import database
from .timeutil import utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class JSONField(peewee.TextField):
    """JSON kept as text, so it works the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Account(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    name = peewee.CharField(max_length=200)
    # A subaccount's parent; top-level accounts have none.
    parent = peewee.ForeignKeyField("self", null=True, backref="subaccounts", on_delete="CASCADE")
    parent_id: str | None  # each foreign key's raw column, which peewee adds as ``<name>_id``
    created_at = peewee.DateTimeField(default=utcnow)

    @property
    def subaccount_id(self) -> str:
        """The id callbacks report as ``subaccount_id`` ("0" for a top-level account)."""
        return self.id if self.parent_id else "0"


class Application(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    account = peewee.ForeignKeyField(Account, backref="applications", on_delete="CASCADE")
    account_id: str
    name = peewee.CharField(max_length=200)
    # SHA-256 of the API key; the key itself is shown once and never stored.
    api_key_hash = peewee.CharField(max_length=64, unique=True, null=True)
    api_key_prefix = peewee.CharField(max_length=12, null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class PhoneNumber(BaseModel):
    """A DID of the operator's inventory, assigned or free."""

    number = peewee.CharField(primary_key=True, max_length=20)
    capabilities = peewee.CharField(max_length=64, default="voice")
    country = peewee.CharField(max_length=2, default="")
    account = peewee.ForeignKeyField(Account, null=True, backref="numbers", on_delete="SET NULL")
    application = peewee.ForeignKeyField(Application, null=True, backref="numbers", on_delete="SET NULL")
    account_id: str | None
    application_id: str | None
    # "CallFlows" once provisioned to an application's call flows.
    service = peewee.CharField(max_length=32, null=True)
    assigned_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)


class CallFlowConfig(BaseModel):
    """Where a number's calls fetch their actions."""

    phone_number = peewee.ForeignKeyField(PhoneNumber, primary_key=True, backref="config", on_delete="CASCADE")
    method = peewee.CharField(max_length=4, default="POST")
    url = peewee.TextField()
    content_type = peewee.CharField(max_length=64, default="application/json")
    fallback_url = peewee.TextField(null=True)
    fallback_method = peewee.CharField(max_length=4, null=True)
    updated_at = peewee.DateTimeField(default=utcnow)


class Call(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    account = peewee.ForeignKeyField(Account, null=True, backref="calls", on_delete="SET NULL")
    application = peewee.ForeignKeyField(Application, null=True, backref="calls", on_delete="SET NULL")
    account_id: str | None
    application_id: str | None
    switch = peewee.CharField(max_length=64, default="")
    # FreeSWITCH's channel uuid (the same as ``id`` for calls we originate).
    channel_uuid = peewee.CharField(max_length=36, null=True, index=True)
    direction = peewee.CharField(max_length=8)
    status = peewee.CharField(max_length=24, index=True)
    caller_no = peewee.CharField(max_length=32, default="")
    # Our number: the one called (inbound) or calling (outbound).
    api_no = peewee.CharField(max_length=32, default="", index=True)
    # The far number an outbound call dials.
    to_no = peewee.CharField(max_length=32, default="")
    start_time = peewee.DateTimeField(default=utcnow, index=True)
    answer_time = peewee.DateTimeField(null=True)
    end_time = peewee.DateTimeField(null=True)
    duration_ms = peewee.IntegerField(null=True)
    hangup_cause = peewee.CharField(max_length=48, null=True)
    session_data = JSONField(null=True)
    custom_data = JSONField(null=True)
    key_presses = JSONField(default=list)
    recordings = JSONField(default=list)
    detection = peewee.CharField(max_length=24, null=True)
    errors = JSONField(default=list)
    # Make Call's options: ring timeout (s) and maximum call time (ms).
    timeout_s = peewee.IntegerField(null=True)
    max_call_time_ms = peewee.IntegerField(null=True)
    sip_domain = peewee.CharField(max_length=255, default="")
    sip_forwarded_for = peewee.CharField(max_length=255, default="")
    # A call started from another (a TRANSFER's dialled leg, a DIAL): its parent.
    parent_call = peewee.ForeignKeyField("self", null=True, backref="child_calls", on_delete="SET NULL")
    parent_call_id: str | None
    # The call server running the call's flow (host:pid, host and port of its
    # socket), so that an operator or another process can tell who holds it.
    call_server = peewee.CharField(max_length=128, null=True)
    # A DIAL's call: the flow it runs when not its caller ID's configuration,
    # and the call (an id) whose caller it joins when its own actions run out.
    flow_url = peewee.TextField(null=True)
    flow_method = peewee.CharField(max_length=4, null=True)
    connect_to = peewee.CharField(max_length=36, null=True)
    # A TRANSFER's dialled leg: written as it rings, finished by its parent's
    # call server (no flow, no callbacks; the watcher and sweeps leave it).
    transfer_leg = peewee.BooleanField(default=False)


class Leg(BaseModel):
    """One channel of a call on the switch.

    Every call has its ``caller`` leg: the channel it arrived on, or the one
    Make Call placed.  Legs we dial for it (a bridge) are ``dialed``.  Times
    are the switch's own where a switch event gave them.
    """

    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    call = peewee.ForeignKeyField(Call, backref="legs", on_delete="CASCADE")
    role = peewee.CharField(max_length=8)  # LEG_ROLES
    direction = peewee.CharField(max_length=8)
    from_no = peewee.CharField(max_length=32, default="")
    to_no = peewee.CharField(max_length=32, default="")
    switch = peewee.CharField(max_length=64, default="")
    channel_uuid = peewee.CharField(max_length=36, null=True, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    ringing_at = peewee.DateTimeField(null=True)
    answered_at = peewee.DateTimeField(null=True)
    # The leg this one is bridged to (a Leg id), and since when.
    bridged_to = peewee.CharField(max_length=36, null=True)
    bridged_at = peewee.DateTimeField(null=True)
    ended_at = peewee.DateTimeField(null=True)
    hangup_cause = peewee.CharField(max_length=48, null=True)
    sip_code = peewee.IntegerField(null=True)


LEG_ROLES = ("caller", "dialed")


class Claim(BaseModel):
    """A side effect some process has taken on, so that no other repeats it.

    Every switch watcher sees every event of its switch; the one whose
    insert of the event's key wins acts on it (see :mod:`voxology_fs.claims`).
    """

    key = peewee.CharField(primary_key=True, max_length=200)
    claimed_at = peewee.DateTimeField(default=utcnow, index=True)


class CallEvent(BaseModel):
    """The call's trace: callbacks, actions, errors, in order."""

    id = peewee.AutoField()
    call = peewee.ForeignKeyField(Call, backref="events", on_delete="CASCADE", index=True)
    at = peewee.DateTimeField(default=utcnow)
    kind = peewee.CharField(max_length=32)
    data = JSONField(null=True)


ALL_MODELS = [Account, Application, PhoneNumber, CallFlowConfig, Call, Leg, Claim, CallEvent]


class CallerId(BaseModel):
    """A number an account may place calls from without owning it (its own mobile,
    its office line), once a call to it has proved the account can answer it.

    Verification: a call to the number speaks a code; the user sends the code
    back through the REST API.  Only a hash of the code is kept.
    """

    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    account = peewee.ForeignKeyField(Account, backref="caller_ids", on_delete="CASCADE")
    number = peewee.CharField(max_length=20, index=True)
    verified = peewee.BooleanField(default=False)
    verified_at = peewee.DateTimeField(null=True)
    code_hash = peewee.CharField(max_length=64, null=True)
    code_expires_at = peewee.DateTimeField(null=True)
    attempts = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "number"), True),)


ALL_MODELS.append(CallerId)


class Conference(BaseModel):
    """An account's conference room: the customer's name, and the FreeSWITCH
    room of ours behind it (``room``: an account prefix and a hash, never the
    customer's text) on its switch.  A room that empties and fills again is
    the same row; ``end_reason`` says why its members last had to leave."""

    room = peewee.CharField(primary_key=True, max_length=96)
    account = peewee.ForeignKeyField(Account, backref="conferences", on_delete="CASCADE")
    account_id: str
    name = peewee.TextField()
    switch = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    end_reason = peewee.CharField(max_length=24, null=True)
    # Where the room's status events go: the first member's status_url that gave one.
    status_url = peewee.TextField(null=True)


class ConferenceMember(BaseModel):
    """A call's time in a room; ``left_at`` is empty while it is inside."""

    id = peewee.AutoField()
    conference = peewee.ForeignKeyField(Conference, backref="members", on_delete="CASCADE")
    conference_id: str
    call = peewee.ForeignKeyField(Call, backref="conference_memberships", on_delete="CASCADE", index=True)
    call_id: str
    member_id = peewee.CharField(max_length=16)  # FreeSWITCH's id of the member in its room
    muted = peewee.BooleanField(default=False)
    held = peewee.BooleanField(default=False)  # on hold by the REST API: hears hold audio, is not heard
    joined_at = peewee.DateTimeField(default=utcnow)
    left_at = peewee.DateTimeField(null=True, index=True)
    left_reason = peewee.CharField(max_length=24, null=True)
    # A coach: the call it speaks to alone (it hears everyone; the others do not hear it).
    coaching = peewee.CharField(max_length=36, null=True)


ALL_MODELS += [Conference, ConferenceMember]


class QueueMember(BaseModel):
    """A call waiting in one of its account's queues (ours: FreeSWITCH never sees
    a queue).  The order is the id's; an agent takes the first member not yet
    taken with a conditional update, so two agents never take the same one."""

    id = peewee.AutoField()
    account = peewee.ForeignKeyField(Account, backref="queue_members", on_delete="CASCADE")
    account_id: str
    name = peewee.TextField()
    call = peewee.ForeignKeyField(Call, backref="queue_memberships", on_delete="CASCADE")
    call_id: str
    channel_uuid = peewee.CharField(max_length=36)
    joined_at = peewee.DateTimeField(default=utcnow)
    taken_at = peewee.DateTimeField(null=True)
    taken_by = peewee.CharField(max_length=36, null=True)  # the agent's call
    left_at = peewee.DateTimeField(null=True, index=True)
    result = peewee.CharField(max_length=16, null=True)


ALL_MODELS.append(QueueMember)


class Recording(BaseModel):
    """A sound file of a call: a RECORD of the caller, or the whole call.

    The file lives in the recordings store under the record's id (never a
    name the customer gave; ``name`` is only their label).  ``status`` is
    in-progress, paused, completed or failed; ``ended_by`` says what ended
    a RECORD (key, silence, max_length, hangup, stopped)."""

    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    account = peewee.ForeignKeyField(Account, backref="recordings", on_delete="CASCADE")
    account_id: str
    call = peewee.ForeignKeyField(Call, null=True, backref="recording_files", on_delete="SET NULL", index=True)
    call_id: str | None
    name = peewee.CharField(max_length=200, default="")
    # record (the action), call (the whole call) or conference (a room's mix)
    source = peewee.CharField(max_length=16, default="record")
    format = peewee.CharField(max_length=8, default="wav")
    channels = peewee.IntegerField(default=1)
    status = peewee.CharField(max_length=16, default="in-progress", index=True)
    store_key = peewee.CharField(max_length=200)  # the file's name in the store
    stored_in = peewee.CharField(max_length=8, default="local")  # local (the folder) or s3 (the bucket)
    room = peewee.CharField(max_length=96, null=True, index=True)  # a conference recording's room (ours)
    duration_ms = peewee.IntegerField(null=True)
    size_bytes = peewee.IntegerField(null=True)
    ended_by = peewee.CharField(max_length=16, null=True)
    finish_key = peewee.CharField(max_length=1, null=True)
    error = peewee.TextField(null=True)
    status_url = peewee.TextField(null=True)
    status_method = peewee.CharField(max_length=4, null=True)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    completed_at = peewee.DateTimeField(null=True)


class Secret(BaseModel):
    """A platform secret every process shares (the key that signs recording URLs)."""

    name = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.CharField(max_length=128)


ALL_MODELS += [Recording, Secret]


class Message(BaseModel):
    """A text message of an account's number: sent (SMS action, REST) or received.

    ``status``: queued, sent (the next hop took it), delivered (a delivery
    receipt said so), failed, or received."""

    id = peewee.CharField(primary_key=True, max_length=36, default=new_id)
    account = peewee.ForeignKeyField(Account, backref="messages", on_delete="CASCADE")
    account_id: str
    direction = peewee.CharField(max_length=8)  # inbound or outbound
    from_no = peewee.CharField(max_length=32)
    to_no = peewee.CharField(max_length=32)
    text = peewee.TextField()
    status = peewee.CharField(max_length=16, index=True)
    error = peewee.TextField(null=True)
    sip_code = peewee.IntegerField(null=True)
    call = peewee.ForeignKeyField(Call, null=True, backref="messages", on_delete="SET NULL")
    call_id: str | None
    status_url = peewee.TextField(null=True)
    switch = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)


ALL_MODELS.append(Message)
