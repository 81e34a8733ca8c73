# A recording's file is in the local folder or, once uploaded, in the S3-compatible
# bucket; a conference's recording names its room (and "conference" its source).
from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("recording", "stored_in", CharField(max_length=8, default="local")),
        migrator.add_column("recording", "room", CharField(max_length=96, null=True)),
        migrator.alter_column_type("recording", "source", CharField(max_length=16, default="record")),
        migrator.add_index("recording", ("room",), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("recording", "recording_room"),
        migrator.drop_column("recording", "room"),
        migrator.drop_column("recording", "stored_in"),
        migrator.alter_column_type("recording", "source", CharField(max_length=8, default="record")),
    )
