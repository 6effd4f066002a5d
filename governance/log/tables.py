"""Database tables of the signed log (SQLModel, registered on the global ``SQLModel.metadata``).

Column types are portable between SQLite and PostgreSQL: hashes are ``LargeBinary`` (BLOB / BYTEA), sizes
and indexes ``BigInteger``, times ``DateTime(timezone=True)`` (SQLite gives them back naive: they are UTC).

* ``log_entries``: one row per leaf; ``body`` is the entry's canonical JSON, ``leaf_hash`` its RFC 6962 leaf
  hash. On SQLite ``idx`` is an ``INTEGER PRIMARY KEY`` (the rowid itself, no extra index).
* ``log_nodes``: hashes of complete perfect subtrees, ``(level, idx)`` covering leaves
  ``[idx * 2**level, (idx + 1) * 2**level)``; level 0 are the leaf hashes again, so that every proof is one
  lookup in one table. On SQLite the table is ``WITHOUT ROWID`` (the composite key *is* the storage order).
* ``log_head``: exactly one row (``id = 1``) holding the tree size. Appenders lock it
  (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite already serialises writers with ``BEGIN IMMEDIATE``).
* ``log_checkpoints``: every signed checkpoint note.
* ``log_keys``: the *public* signing keys, with the time each was retired by a rotation. Private keys
  never enter the database.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = ["LogCheckpointRow", "LogEntryRow", "LogHeadRow", "LogKeyRow", "LogNodeRow"]

# Integer (not BIGINT) on SQLite makes the column an alias of the rowid.
_Index = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class LogEntryRow(SQLModel, table=True):
    __tablename__ = "log_entries"

    idx: int = Field(sa_column=sa.Column(_Index, primary_key=True, autoincrement=False))
    entry_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, index=True))
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    leaf_hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class LogNodeRow(SQLModel, table=True):
    __tablename__ = "log_nodes"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=sa.Column(sa.SmallInteger(), primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))


class LogHeadRow(SQLModel, table=True):
    __tablename__ = "log_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_log_head_single_row"),)

    id: int = Field(sa_column=sa.Column(sa.Integer(), primary_key=True, autoincrement=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class LogCheckpointRow(SQLModel, table=True):
    __tablename__ = "log_checkpoints"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.Integer(), primary_key=True))
    tree_size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, index=True))
    root_hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(32), nullable=False))
    note: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    key_id: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))


class LogKeyRow(SQLModel, table=True):
    __tablename__ = "log_keys"

    key_id: str = Field(sa_column=sa.Column(sa.String(8), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    public_key_pem: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    retired_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
