"""Imports every module that defines tables, so ``SQLModel.metadata`` is complete (for Alembic)."""

from __future__ import annotations

import governance.log.tables
import governance.models  # noqa: F401
