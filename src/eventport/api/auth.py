"""The caller's own account: bearer tokens, named API tokens, password change.

``POST /token`` signs in (rate limited per address and per client, see
:mod:`eventport.accounts.throttle`). ``GET|POST|DELETE /tokens`` manage named API
tokens, which outlive sign-ins and password changes until revoked or expired; the
secret is shown once, at creation. ``DELETE /tokens`` revokes the token the call is made
with, ``DELETE /tokens/{id}`` a listed one. ``POST /password`` changes the password and signs
every session out except the caller's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventport.accounts import service as accounts
from eventport.accounts import throttle
from eventport.accounts.models import ApiToken, TokenKind
from eventport.api.deps import CurrentUser, Db, ItemId, bearer_token
from eventport.api.events import Page, PerPage, page_of
from eventport.errors import InvalidInput, Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

MAX_TOKEN_DAYS = 366


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


class NewApiToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    expires_in_days: Annotated[int, Field(ge=1, le=MAX_TOKEN_DAYS)] = 90


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=TokenResponse)
def create_token(body: Credentials, request: Request, db: Db) -> TokenResponse:
    client = client_address(request)
    throttle.check(db, body.email, client)
    user = accounts.authenticate(db, body.email, body.password)
    if user is None:
        throttle.record_failure(db, body.email, client)
        db.commit()
        raise Unauthorized("wrong e-mail or password")
    throttle.clear(db, body.email)
    token, row = accounts.issue_token(db, user)
    db.commit()
    return TokenResponse(access_token=token, expires_at=row.expires_at.isoformat())


def token_document(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


@router.get("/tokens")
def list_tokens(user: CurrentUser, db: Db, page: Page = 1, per_page: PerPage = 50
                ) -> dict[str, Any]:
    """The caller's API tokens, newest first, a page at a time like every list."""
    rows, total = accounts.tokens_page(db, user, page, per_page)
    return page_of([token_document(r) for r in rows], total, page, per_page)


@router.post("/tokens", status_code=201)
def create_api_token(body: NewApiToken, user: CurrentUser, db: Db) -> dict[str, Any]:
    token, row = accounts.issue_token(db, user, dt.timedelta(days=body.expires_in_days),
                                      kind=TokenKind.API, name=body.name)
    db.commit()
    return {**token_document(row), "token": token}


@router.delete("/tokens", status_code=204)
def revoke_current_token(request: Request, user: CurrentUser, db: Db) -> Response:
    """DESIGN's ``DELETE /auth/tokens``: revoke the bearer token this call presents (an
    API client signing itself out); a listed token is revoked by ``…/tokens/{id}``."""
    token = bearer_token(request)
    if token is None:
        raise InvalidInput("this call revokes the bearer token it is made with; send one "
                           "(Authorization: Bearer …) or use DELETE /api/v1/auth/tokens/{id}")
    accounts.revoke_token(db, token)
    db.commit()
    return Response(status_code=204)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_api_token(token_id: ItemId, user: CurrentUser, db: Db) -> Response:
    accounts.revoke_token_id(db, user, token_id)
    db.commit()
    return Response(status_code=204)


@router.post("/password", status_code=204)
def change_password(body: PasswordChange, request: Request, user: CurrentUser, db: Db
                    ) -> Response:
    token = bearer_token(request) or getattr(request.state, "session_token", None)
    keep = accounts.token_row(db, token) if token else None
    accounts.change_password(db, user, body.current_password, body.new_password, keep=keep)
    db.commit()
    return Response(status_code=204)
