# A conference room's status URL (where its start, end, join, leave, mute, hold and
# speaker events go), and the call a member coaches (it speaks to that one alone).
from peewee import CharField, TextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("conference", "status_url", TextField(null=True)),
        migrator.add_column("conference_member", "coaching", CharField(max_length=36, null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("conference_member", "coaching"),
        migrator.drop_column("conference", "status_url"),
    )
