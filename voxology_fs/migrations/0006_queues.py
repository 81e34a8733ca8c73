# Queues of an account's callers, ours (not mod_fifo's), ordered in the database.
from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, Model, TextField


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

    class QueueMember(Model):
        id = AutoField()
        account = ForeignKeyField(Account, on_delete="CASCADE")
        name = TextField()
        call = ForeignKeyField(Call, on_delete="CASCADE")
        channel_uuid = CharField(max_length=36)
        joined_at = DateTimeField()
        taken_at = DateTimeField(null=True)
        taken_by = CharField(max_length=36, null=True)
        left_at = DateTimeField(null=True, index=True)
        result = CharField(max_length=16, null=True)

        class Meta:
            database = db
            table_name = "queue_member"

    db.create_tables([QueueMember])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("queue_member"))
