"""Admin: principals and their API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require
from api.schemas import PrincipalIn, PrincipalOut
from governance.models import Principal, Role
from governance.services import principals

router = APIRouter(prefix="/v1", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Role.admin))]


@router.post("/principals", status_code=201, response_model=PrincipalOut)
def create_principal(body: PrincipalIn, session: SessionDep, _: Admin) -> PrincipalOut:
    principal, key = principals.create_principal(session, name=body.name, role=body.role)
    return PrincipalOut(name=principal.name, role=principal.role, api_key=key)
