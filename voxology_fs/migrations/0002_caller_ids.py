# Caller IDs: numbers an account proved it answers, usable as Make Call's
# caller_id_no.  A frozen copy of the model as it was added.
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Account(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "account"

    class CallerId(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(Account, on_delete="CASCADE")
        number = CharField(index=True, max_length=20)
        verified = BooleanField(default=False)
        verified_at = DateTimeField(null=True)
        code_hash = CharField(null=True, max_length=64)
        code_expires_at = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "caller_id"
            indexes = ((("account", "number"), True),)

    db.create_tables([CallerId])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("caller_id"))
