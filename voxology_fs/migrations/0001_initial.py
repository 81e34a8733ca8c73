# The first schema. Frozen copies of the models as they were, so later model
# changes go into new migrations and never alter what this one creates.
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField

from voxology_fs.models import JSONField


def up(migrator, db):
    class Account(Model):
        id = CharField(primary_key=True, max_length=36)
        name = CharField(max_length=200)
        parent = ForeignKeyField("self", null=True, on_delete="CASCADE")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "account"

    db.create_tables([Account])

    class Application(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(Account, on_delete="CASCADE")
        name = CharField(max_length=200)
        api_key_hash = CharField(unique=True, null=True, max_length=64)
        api_key_prefix = CharField(null=True, max_length=12)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "application"

    db.create_tables([Application])

    class Call(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(Account, null=True, on_delete="SET NULL")
        application = ForeignKeyField(Application, null=True, on_delete="SET NULL")
        switch = CharField(max_length=64, default="")
        channel_uuid = CharField(index=True, null=True, max_length=36)
        direction = CharField(max_length=8)
        status = CharField(index=True, max_length=24)
        caller_no = CharField(max_length=32, default="")
        api_no = CharField(index=True, max_length=32, default="")
        to_no = CharField(max_length=32, default="")
        start_time = DateTimeField(index=True)
        answer_time = DateTimeField(null=True)
        end_time = DateTimeField(null=True)
        duration_ms = IntegerField(null=True)
        hangup_cause = CharField(null=True, max_length=48)
        session_data = JSONField(null=True)
        custom_data = JSONField(null=True)
        key_presses = JSONField(default=list)
        recordings = JSONField(default=list)
        detection = CharField(null=True, max_length=24)
        errors = JSONField(default=list)
        timeout_s = IntegerField(null=True)
        max_call_time_ms = IntegerField(null=True)
        sip_domain = CharField(default="")
        sip_forwarded_for = CharField(default="")

        class Meta:
            database = db
            table_name = "call"

    db.create_tables([Call])

    class CallEvent(Model):
        call = ForeignKeyField(Call, on_delete="CASCADE")
        at = DateTimeField()
        kind = CharField(max_length=32)
        data = JSONField(null=True)

        class Meta:
            database = db
            table_name = "call_event"

    db.create_tables([CallEvent])

    class PhoneNumber(Model):
        number = CharField(primary_key=True, max_length=20)
        capabilities = CharField(max_length=64, default="voice")
        country = CharField(max_length=2, default="")
        account = ForeignKeyField(Account, null=True, on_delete="SET NULL")
        application = ForeignKeyField(Application, null=True, on_delete="SET NULL")
        service = CharField(null=True, max_length=32)
        assigned_at = DateTimeField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "phone_number"

    db.create_tables([PhoneNumber])

    class CallFlowConfig(Model):
        phone_number = ForeignKeyField(PhoneNumber, primary_key=True, on_delete="CASCADE")
        method = CharField(max_length=4, default="POST")
        url = TextField()
        content_type = CharField(max_length=64, default="application/json")
        fallback_url = TextField(null=True)
        fallback_method = CharField(null=True, max_length=4)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "call_flow_config"

    db.create_tables([CallFlowConfig])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("call_flow_config"))
    migrator.migrate(migrator.drop_table("phone_number"))
    migrator.migrate(migrator.drop_table("call_event"))
    migrator.migrate(migrator.drop_table("call"))
    migrator.migrate(migrator.drop_table("application"))
    migrator.migrate(migrator.drop_table("account"))
