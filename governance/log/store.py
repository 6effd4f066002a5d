"""The Merkle tree's nodes in the database: a :class:`~governance.log.merkle.TreeStore` over a session.

Everything goes through the caller's SQLModel ``Session`` and so lands in the caller's transaction: an
append that is rolled back leaves neither its entry nor its nodes nor a bigger tree size behind. Nodes are
read with one ``SELECT`` per proof and written with one multi-row ``INSERT`` per append.

:func:`lock_head` is the appenders' mutex: it takes a row lock on the single ``log_head`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite already holds the database write lock from the
``BEGIN IMMEDIATE`` that ``governance.db`` issues), creating the row on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from governance.log.merkle import LogIntegrityError, NodeKey
from governance.log.tables import LogHeadRow, LogNodeRow

__all__ = ["SqlTreeStore", "lock_head"]

_nodes: sa.Table = LogNodeRow.__table__  # type: ignore[attr-defined]
_head: sa.Table = LogHeadRow.__table__  # type: ignore[attr-defined]

# Bind-parameter budget per statement: SQLite allows 32766, PostgreSQL 65535.
_MAX_KEYS_PER_SELECT = 10_000
_MAX_ROWS_PER_INSERT = 5_000


_SIZE = sa.select(_head.c.size).where(_head.c.id == 1)
_SIZE_FOR_UPDATE = _SIZE.with_for_update()


@functools.lru_cache(maxsize=128)
def _node_query(levels: int) -> sa.Select[tuple[int, int, bytes]]:
    """``level = :l0 AND idx IN :i0 OR ...`` for ``levels`` levels, built once and reused.

    Both SQLite (MULTI-INDEX OR) and PostgreSQL answer it with primary-key lookups; a row-value
    ``(level, idx) IN (...)`` makes SQLite scan the whole table. Building SQLAlchemy expressions per call
    cost more than the query itself, hence the cache (the IN lists are expanding bind parameters).
    """
    terms = [
        sa.and_(
            _nodes.c.level == sa.bindparam(f"l{i}"), _nodes.c.idx.in_(sa.bindparam(f"i{i}", expanding=True))
        )
        for i in range(levels)
    ]
    return sa.select(_nodes.c.level, _nodes.c.idx, _nodes.c.hash).where(sa.or_(*terms))


def _read_size(session: Session, *, for_update: bool) -> int | None:
    value = session.execute(_SIZE_FOR_UPDATE if for_update else _SIZE).scalar_one_or_none()
    return None if value is None else int(value)


def lock_head(session: Session) -> int:
    """Lock the log head for this transaction and return the tree size (creating the row at 0)."""
    size = _read_size(session, for_update=True)
    if size is not None:
        return size
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert(_head).values(id=1, size=0).on_conflict_do_nothing()
    elif dialect == "sqlite":
        insert = sqlite.insert(_head).values(id=1, size=0).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        insert = sa.insert(_head).values(id=1, size=0)
    # Two first appenders may race here; ON CONFLICT lets the loser wait on the winner's row lock below.
    session.execute(insert)
    size = _read_size(session, for_update=True)
    if size is None:
        raise LogIntegrityError("log_head row vanished after it was created")
    return size


class SqlTreeStore:
    """Tree nodes in ``log_nodes`` and the size in ``log_head``, read and written through ``session``.

    With ``locked=True`` the head row is locked on first use (appenders); readers leave it unlocked so that
    proofs never wait for appends.
    """

    def __init__(self, session: Session, *, locked: bool = False) -> None:
        self.session = session
        self.locked = locked
        self._size: int | None = None

    def size(self) -> int:
        if self._size is None:
            if self.locked:
                self._size = lock_head(self.session)
            else:
                self._size = _read_size(self.session, for_update=False) or 0
        return self._size

    def get_nodes(self, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        by_level: dict[int, list[int]] = {}
        for level, idx in set(keys):
            by_level.setdefault(level, []).append(idx)
        out: dict[NodeKey, bytes] = {}
        levels = sorted(by_level.items())
        # A proof touches at most ~64 levels with a few nodes each; huge key sets are split so that no
        # statement exceeds the drivers' bind-parameter limits.
        while levels:
            group: list[tuple[int, list[int]]] = []
            budget = _MAX_KEYS_PER_SELECT
            while levels and budget > 0:
                level, ids = levels[0]
                take, rest = ids[:budget], ids[budget:]
                group.append((level, take))
                budget -= len(take)
                if rest:
                    levels[0] = (level, rest)
                else:
                    levels.pop(0)
            params: dict[str, object] = {}
            for i, (level, ids) in enumerate(group):
                params[f"l{i}"] = level
                params[f"i{i}"] = ids
            for level, idx, digest in self.session.execute(_node_query(len(group)), params):
                out[(int(level), int(idx))] = bytes(digest)
        return out

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        rows = [{"level": level, "idx": idx, "hash": digest} for level, idx, digest in nodes]
        for start in range(0, len(rows), _MAX_ROWS_PER_INSERT):
            self.session.execute(sa.insert(_nodes), rows[start : start + _MAX_ROWS_PER_INSERT])

    def set_size(self, size: int) -> None:
        if not self.locked:
            raise LogIntegrityError("the tree size may only change under the head lock (locked=True)")
        current = self.size()
        if size < current:
            raise LogIntegrityError(f"the log cannot shrink from {current} to {size}")
        self.session.execute(sa.update(_head).where(_head.c.id == 1).values(size=size))
        self._size = size
