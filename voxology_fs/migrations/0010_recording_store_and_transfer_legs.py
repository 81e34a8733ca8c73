# A recording's file is in the local folder or, once uploaded, in the S3-compatible
# bucket; a conference's recording names its room (and "conference" its source).
# A TRANSFER's dialled leg is written as it rings, marked as its parent's to finish.
from peewee import BooleanField, CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("recording", "stored_in", CharField(max_length=8, default="local")),
        migrator.add_column("recording", "room", CharField(max_length=96, null=True)),
        migrator.alter_column_type("recording", "source", CharField(max_length=16, default="record")),
        migrator.add_index("recording", ("room",), False),
        migrator.add_column("call", "transfer_leg", BooleanField(default=False)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("call", "transfer_leg"),
        migrator.drop_index("recording", "recording_room"),
        migrator.drop_column("recording", "room"),
        migrator.drop_column("recording", "stored_in"),
        migrator.alter_column_type("recording", "source", CharField(max_length=8, default="record")),
    )
