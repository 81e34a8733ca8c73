"""The test database: SQLite unless ``VOXOLOGY_TEST_DATABASE_URL`` names another."""

import os

import peewee

from voxology_fs import db as dbmod
from voxology_fs import models

TEST_DATABASE_URL = os.environ.get("VOXOLOGY_TEST_DATABASE_URL", "")


def reset_schema(database) -> None:
    with database.connection_context():
        is_postgres = isinstance(database, peewee.PostgresqlDatabase)
        database.drop_tables(list(reversed(models.ALL_MODELS)), safe=True, cascade=is_postgres)
        database.execute_sql("DROP TABLE IF EXISTS schema_migration")


def open_database(url: str):
    """A migrated database with no rows, at url."""
    database = dbmod.connect(url, pool_size=50)
    reset_schema(database)
    dbmod.migrate(database)
    return database


def empty_tables(database) -> None:
    with database.connection_context():
        for model in reversed(models.ALL_MODELS):
            model.delete().execute()
