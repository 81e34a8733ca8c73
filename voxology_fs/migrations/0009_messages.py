# Text messages (SMS) sent and received by the accounts' numbers.
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


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

    class Message(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(Account, on_delete="CASCADE")
        direction = CharField(max_length=8)
        from_no = CharField(max_length=32)
        to_no = CharField(max_length=32)
        text = TextField()
        status = CharField(max_length=16, index=True)
        error = TextField(null=True)
        sip_code = IntegerField(null=True)
        call = ForeignKeyField(Call, null=True, on_delete="SET NULL")
        status_url = TextField(null=True)
        switch = CharField(max_length=64, default="")
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "message"

    db.create_tables([Message])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("message"))
