# Conference rooms of an account (the customer's name, our FreeSWITCH room)
# and the calls inside them, for the REST API's live view and control.
from peewee import AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField, Model, TextField


def up(migrator, db):
    class Account(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "account"

    class Call(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "call"

    class Conference(Model):
        room = CharField(primary_key=True, max_length=96)
        account = ForeignKeyField(Account, on_delete="CASCADE")
        name = TextField()
        switch = CharField(max_length=64, default="")
        created_at = DateTimeField()
        end_reason = CharField(max_length=24, null=True)

        class Meta:
            database = db
            table_name = "conference"

    class ConferenceMember(Model):
        id = AutoField()
        conference = ForeignKeyField(Conference, on_delete="CASCADE")
        call = ForeignKeyField(Call, on_delete="CASCADE", index=True)
        member_id = CharField(max_length=16)
        muted = BooleanField(default=False)
        joined_at = DateTimeField()
        left_at = DateTimeField(null=True, index=True)
        left_reason = CharField(max_length=24, null=True)

        class Meta:
            database = db
            table_name = "conference_member"

    db.create_tables([Conference, ConferenceMember])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("conference_member"))
    migrator.migrate(migrator.drop_table("conference"))
