"""Reads about spaces, scoped to the asking user."""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

from carnet.registry.models import InsuredPerson

from .models import Space


def space_for_user(user) -> Space | None:
    """The space the account acts on: a linked profile chosen with the profile switcher (set
    on the request by `family.middleware`, checked at each request), else its own."""
    link = getattr(user, "acting_link", None)
    if link is not None:
        # Read through a linked profile: the reads leave out what the holder's representatives
        # may not see (a minor's confidential documents, documents.selectors).
        link.space.seen_by_representative = True
        return link.space
    return own_space(user)


def own_space(user) -> Space | None:
    """The account holder's own space, whichever profile they act for."""
    if not user.is_authenticated or user.person_id is None:
        return None
    space = _space_with_person(user.person_id)
    if space is not None:
        user.person = space.person  # the same row: the page's header reads it without a query
    return space


# --- own_space: read by every page of a patient ----------------------------------------------
#
# Through the ORM (`Space.objects.select_related("person").get(person_id=...)`) this read cost
# about 0.4 ms of CPU per page, ten times the statement itself: building and compiling the
# query. Here the statement is written once per connection, its columns taken from the models,
# and each value goes through Django's own converters (the database's and the field's), so the
# instances are the ones the ORM gives. tests/enrollment/test_own_space.py compares both.

# Kept on the connection (each thread has its own), as this attribute: the statement in its
# dialect, with the converters, which are methods of that connection — kept anywhere else, they
# would keep the connection alive after its thread.
_STATEMENT = "_carnet_own_space"


@dataclass(frozen=True)
class _Statement:
    sql: str
    converters: list  # (column index, functions, column)
    space_names: list[str]  # attnames, in the order of the columns
    person_names: list[str]


def _space_with_person(person_id: int) -> Space | None:
    """The space of a person (one per person: a unique key), its `person` loaded, or None."""
    connection = connections[DEFAULT_DB_ALIAS]
    statement = getattr(connection, _STATEMENT, None) or _statement(connection)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [person_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, functions, column in statement.converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    cut = len(statement.space_names)
    space = Space.from_db(connection.alias, statement.space_names, values[:cut])
    space.person = InsuredPerson.from_db(connection.alias, statement.person_names, values[cut:])
    return space


def _statement(connection) -> _Statement:
    quote = connection.ops.quote_name
    spaces, persons = quote(Space._meta.db_table), quote(InsuredPerson._meta.db_table)
    space_fields, person_fields = Space._meta.concrete_fields, InsuredPerson._meta.concrete_fields
    person_id = f"{spaces}.{quote(Space._meta.get_field('person').column)}"
    columns = [(spaces, f) for f in space_fields] + [(persons, f) for f in person_fields]
    sql = (
        f"SELECT {', '.join(f'{table}.{quote(f.column)}' for table, f in columns)}"  # noqa: S608 (names from the models; the id is a parameter)
        f" FROM {spaces} JOIN {persons}"
        f" ON {persons}.{quote(InsuredPerson._meta.pk.column)} = {person_id}"
        f" WHERE {person_id} = %s"
    )
    converters = []
    for index, (_, field) in enumerate(columns):
        column = field.get_col(field.model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, functions, column))
    statement = _Statement(
        sql,
        converters,
        space_names=[f.attname for f in space_fields],
        person_names=[f.attname for f in person_fields],
    )
    setattr(connection, _STATEMENT, statement)
    return statement
