"""HTTP routes that end an account's access: deactivation by an admin, deletion by its owner."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from services.user import accounts
from services.user.deps import DepsDep
from services.user.schemas import AccountDeletion, UserPublic, problems, user_public
from shared.app import UowDep
from shared.auth import CurrentUser, Principal, require_roles

router = APIRouter(prefix="/api/v1", tags=["users"])
Admin = Annotated[Principal, require_roles("admin")]


@router.post("/users/{user_id}/deactivate", response_model=UserPublic, responses=problems(401, 403, 404, 409, 422))
async def deactivate(user_id: uuid.UUID, admin: Admin, uow: UowDep, deps: DepsDep) -> UserPublic:
    """Admins: the account can no longer log in, and every token of it is refused at once by every
    service (`user.deactivated`; its calendar feed stops too)."""
    return user_public(await accounts.deactivate_user(uow, deps.revocations, deps.tokens, admin, user_id))


@router.post("/users/{user_id}/reactivate", response_model=UserPublic, responses=problems(401, 403, 404, 422))
async def reactivate(user_id: uuid.UUID, admin: Admin, uow: UowDep) -> UserPublic:
    """Admins: the account may log in again; the tokens and feed it had stay dead."""
    return user_public(await accounts.reactivate_user(uow, admin, user_id))


@router.post("/users/me/deletion", status_code=204, response_class=Response, responses=problems(401, 403, 422))
async def delete_me(body: AccountDeletion, user: CurrentUser, uow: UowDep, deps: DepsDep) -> Response:
    """Delete one's own account, giving its password again (`user.deleted`). The e-mail address is
    free again at once; what other services keep is in docs/security.md."""
    await accounts.delete_own_account(uow, deps.revocations, deps.tokens, user, password=body.password)
    return Response(status_code=204)
