# A conference member put on hold by the REST API (it hears hold audio, is not heard).
from peewee import BooleanField


def up(migrator, db):
    migrator.migrate(migrator.add_column("conference_member", "held", BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("conference_member", "held"))
