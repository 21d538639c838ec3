"""Staging columns of every type the coercion knows, shared by the ingest tests."""

from sparkify.ingest.records import Column

TEXT = Column("title", "character varying", 65535)
SHORT = Column("level", "character varying", 4)
INT = Column("item_in_session", "integer")
BIG = Column("session_id", "bigint")
FLOAT = Column("length", "double precision")
TS = Column("ts", "timestamp without time zone")
