# Calls with more than one leg: a leg table (every existing call gets its
# caller leg, from what its record says), a call's parent call, and the
# claims that let one switch watcher of many act on an event.
# Frozen copies of the models as they were added.
import uuid

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Call(Model):
        id = CharField(primary_key=True, max_length=36)
        switch = CharField(max_length=64)
        channel_uuid = CharField(null=True, max_length=36)
        direction = CharField(max_length=8)
        caller_no = CharField(max_length=32)
        api_no = CharField(max_length=32)
        to_no = CharField(max_length=32)
        start_time = DateTimeField()
        answer_time = DateTimeField(null=True)
        end_time = DateTimeField(null=True)
        hangup_cause = CharField(null=True, max_length=48)

        class Meta:
            database = db
            table_name = "call"

    class Leg(Model):
        id = CharField(primary_key=True, max_length=36)
        call = ForeignKeyField(Call, on_delete="CASCADE")
        role = CharField(max_length=8)
        direction = CharField(max_length=8)
        from_no = CharField(max_length=32, default="")
        to_no = CharField(max_length=32, default="")
        switch = CharField(max_length=64, default="")
        channel_uuid = CharField(index=True, null=True, max_length=36)
        created_at = DateTimeField()
        ringing_at = DateTimeField(null=True)
        answered_at = DateTimeField(null=True)
        bridged_to = CharField(null=True, max_length=36)
        bridged_at = DateTimeField(null=True)
        ended_at = DateTimeField(null=True)
        hangup_cause = CharField(null=True, max_length=48)
        sip_code = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "leg"

    class Claim(Model):
        key = CharField(primary_key=True, max_length=200)
        claimed_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "claim"

    db.create_tables([Leg, Claim])
    migrator.migrate(
        migrator.add_column(
            "call", "parent_call_id", ForeignKeyField(Call, field=Call.id, null=True, on_delete="SET NULL")
        ),
        migrator.add_column("call", "call_server", CharField(max_length=128, null=True)),
    )

    # Every call's caller leg: the channel it came in on, or Make Call's.
    last_id = ""
    while True:
        calls = list(Call.select().where(Call.id > last_id).order_by(Call.id).limit(500))
        if not calls:
            break
        Leg.insert_many([_caller_leg(call) for call in calls]).execute()
        last_id = calls[-1].id


def _caller_leg(call) -> dict:
    inbound = call.direction == "inbound"
    return {
        "id": str(uuid.uuid4()),
        "call": call.id,
        "role": "caller",
        "direction": call.direction,
        "from_no": call.caller_no if inbound else call.api_no,
        "to_no": call.api_no if inbound else (call.to_no or call.caller_no),
        "switch": call.switch,
        "channel_uuid": call.channel_uuid,
        "created_at": call.start_time,
        "answered_at": call.answer_time,
        "ended_at": call.end_time,
        "hangup_cause": call.hangup_cause,
    }


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("call", "call_parent_call_id"),
        migrator.drop_column("call", "parent_call_id"),
        migrator.drop_column("call", "call_server"),
    )
    migrator.migrate(migrator.drop_table("claim"))
    migrator.migrate(migrator.drop_table("leg"))
