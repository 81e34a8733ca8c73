# A recording's file is in the local folder or, once uploaded, in the S3-compatible bucket.
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column("recording", "stored_in", CharField(max_length=8, default="local")))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("recording", "stored_in"))
