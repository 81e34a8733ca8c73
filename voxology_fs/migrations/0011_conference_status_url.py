# A conference room's status URL: where its start, end, join, leave, mute, hold and speaker events go.
from peewee import TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("conference", "status_url", TextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("conference", "status_url"))
