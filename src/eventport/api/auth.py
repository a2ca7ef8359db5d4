"""Obtaining a bearer token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from eventport.accounts import service as accounts
from eventport.api.deps import Db
from eventport.errors import Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str


@router.post("/token", response_model=TokenResponse)
def create_token(body: Credentials, db: Db) -> TokenResponse:
    user = accounts.authenticate(db, body.email, body.password)
    if user is None:
        raise Unauthorized("wrong e-mail or password")
    token, row = accounts.issue_token(db, user)
    db.commit()
    return TokenResponse(access_token=token, expires_at=row.expires_at.isoformat())
