# Calls a flow places with DIAL: the flow they run (when not their caller
# ID's configuration) and the call whose caller they join when their own
# actions run out (``connect``).
from peewee import CharField, TextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("call", "flow_url", TextField(null=True)),
        migrator.add_column("call", "flow_method", CharField(max_length=4, null=True)),
        migrator.add_column("call", "connect_to", CharField(max_length=36, null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("call", "flow_url"),
        migrator.drop_column("call", "flow_method"),
        migrator.drop_column("call", "connect_to"),
    )
