# Recordings (RECORD and whole-call) and the shared secret that signs their URLs.
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

    class Recording(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(Account, on_delete="CASCADE")
        call = ForeignKeyField(Call, null=True, on_delete="SET NULL", index=True)
        name = CharField(max_length=200, default="")
        source = CharField(max_length=8, default="record")
        format = CharField(max_length=8, default="wav")
        channels = IntegerField(default=1)
        status = CharField(max_length=16, default="in-progress", index=True)
        store_key = CharField(max_length=200)
        duration_ms = IntegerField(null=True)
        size_bytes = IntegerField(null=True)
        ended_by = CharField(max_length=16, null=True)
        finish_key = CharField(max_length=1, null=True)
        error = TextField(null=True)
        status_url = TextField(null=True)
        status_method = CharField(max_length=4, null=True)
        created_at = DateTimeField(index=True)
        completed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "recording"

    class Secret(Model):
        name = CharField(primary_key=True, max_length=64)
        value = CharField(max_length=128)

        class Meta:
            database = db
            table_name = "secret"

    db.create_tables([Recording, Secret])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("secret"))
    migrator.migrate(migrator.drop_table("recording"))
