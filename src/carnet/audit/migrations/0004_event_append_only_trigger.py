"""The database itself refuses to change an audit event (DESIGN invariant 2).

PostgreSQL: a row trigger refuses UPDATE and DELETE on audit_event. TRUNCATE stays possible:
Django's test flush uses it and it empties the heads as well; production should also revoke
UPDATE, DELETE and TRUNCATE on audit_event from the application's role (docs/operations.md).

SQLite: a trigger refuses UPDATE. DELETE is left to the model and `carnet audit verify`: Django
empties SQLite tables with `DELETE FROM` (flush, between transactional tests), which a delete
trigger would refuse.

audit_chainhead is not protected: it is updated at every write.
"""

from django.db import migrations

PG_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event est en ajout seul : % refusé', TG_OP;
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
]
PG_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]
SQLITE_INSTALL = [
    """
    CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN
        SELECT RAISE(ABORT, 'audit_event est en ajout seul : UPDATE refusé');
    END
    """
]
SQLITE_REMOVE = ["DROP TRIGGER IF EXISTS audit_event_no_update"]


def _run(schema_editor, statements_by_vendor):
    """Only on the vendors above; another database keeps the model's and verify's guard."""
    statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


def install(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_INSTALL, "sqlite": SQLITE_INSTALL})


def remove(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_REMOVE, "sqlite": SQLITE_REMOVE})


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_event_space_indexes")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
