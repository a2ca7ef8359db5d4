"""The account page (password, API tokens) and password reset by e-mail.

Changing the password and managing tokens are done by ``account.js`` through the REST
API. The reset pages are plain forms: the person is not signed in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from eventport.accounts import reset
from eventport.accounts import service as accounts
from eventport.api.deps import Db, site_url
from eventport.errors import EventportError
from eventport.notify import account_mail
from eventport.web import session as web_session
from eventport.web.pages import PageUser, page_router, redirect, render

router = page_router()


@router.get("/account")
def account_page(request: Request, user: PageUser, db: Db) -> Response:
    return render(request, "account.html", {"nav": "account",
                                            "tokens": accounts.list_tokens(db, user)})


def _csrf_ok(request: Request, supplied: str) -> bool:
    session = web_session.load(request)
    return not session.changed and web_session.csrf_matches(session, supplied)


@router.get("/password-reset")
def reset_request_page(request: Request) -> Response:
    return render(request, "reset_request.html", {"sent": False, "error": None})


@router.post("/password-reset")
def reset_request(
    request: Request, db: Db,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not _csrf_ok(request, csrf_token):
        return render(request, "reset_request.html", {
            "sent": False, "error": "The form expired; please try again."}, status_code=403)
    found = reset.token_for(db, email)
    if found is not None:
        user, token = found
        account_mail.send_password_reset(user.email,
                                         f"{site_url(request)}/password-reset/{token}")
    return render(request, "reset_request.html", {"sent": True, "error": None})


@router.get("/password-reset/{token}")
def reset_page(request: Request, token: str, db: Db) -> Response:
    try:
        reset.user_for(db, token[:2000])
    except EventportError as exc:
        return render(request, "reset_form.html", {"token": None, "error": exc.detail},
                      status_code=exc.status)
    return render(request, "reset_form.html", {"token": token, "error": None})


@router.post("/password-reset/{token}")
def reset_password(
    request: Request, token: str, db: Db,
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    token = token[:2000]
    if not _csrf_ok(request, csrf_token):
        return render(request, "reset_form.html", {
            "token": token, "error": "The form expired; please try again."}, status_code=403)
    try:
        user = reset.reset(db, token, password)
    except EventportError as exc:
        db.rollback()
        return render(request, "reset_form.html", {"token": token, "error": exc.detail},
                      status_code=exc.status)
    web_session.sign_in(db, request, user)
    db.commit()
    return redirect("/events", request)
