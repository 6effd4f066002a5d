"""Dependencies shared by the routers: the runtime, a transactional session, the caller and its role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, UploadFile
from sqlmodel import Session

from governance.errors import Forbidden, TooLarge, Unauthorized
from governance.media import Upload
from governance.models import Principal, Role
from governance.runtime import Runtime
from governance.services import principals


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    # One transaction per request: committed when the handler returns, rolled back on any error.
    with rt.session() as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit is never a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def current_principal(request: Request, rt: RuntimeDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing 'Authorization: Bearer <api key>' header")
    with rt.session() as s:
        return principals.authenticate(s, key.strip())


CallerDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = {r.value for r in roles} | {Role.admin.value}

    def check(caller: CallerDep) -> Principal:
        if caller.role not in allowed:
            raise Forbidden(f"this needs the role {' or '.join(sorted(allowed))}; you are {caller.role}")
        return caller

    return check


async def read_uploads(files: list[UploadFile], rt: Runtime) -> list[Upload]:
    """Read uploads into memory within the size limit (413 past it) and the count limit."""
    limit = rt.settings.max_upload_bytes
    if len(files) > rt.settings.max_files_per_request:
        raise TooLarge(f"at most {rt.settings.max_files_per_request} files per request")
    out = []
    for f in files:
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(f"{f.filename or 'file'}: over the {limit}-byte upload limit")
        out.append(Upload(filename=f.filename or "", data=data, declared_type=f.content_type))
    return out
