"""Media uploads: stored through the storage layer, sniffed, limited, replaced cleanly."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from eventport.events.models import MediaFile
from eventport.storage import get_storage


def png(color: str = "red", size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), "white").save(out, "PDF")
    return out.getvalue()


def test_upload_read_replace_delete_speaker_photo(client, owner, event, db):
    eid = event["id"]
    speaker = client.post(f"/api/v1/events/{eid}/speakers", headers=owner.headers,
                          json={"name": "Ada"}).json()
    path = f"/api/v1/events/{eid}/speakers/{speaker['id']}/photo"
    first = png("red")
    response = client.put(path, headers=owner.headers,
                          files={"file": ("ada.png", first, "application/octet-stream")})
    assert response.status_code == 200, response.text
    assert response.json()["photo"] == path
    fetched = client.get(path, headers=owner.headers)
    assert fetched.content == first
    assert fetched.headers["content-type"] == "image/png"  # sniffed, not the client's claim
    row = db.query(MediaFile).one()
    assert row.size == len(first) and row.sha256 == hashlib.sha256(first).hexdigest()
    old_key = row.storage_key
    assert get_storage().exists(old_key)

    second = png("blue", 80)
    client.put(path, headers=owner.headers, files={"file": ("ada2.png", second, "image/png")})
    assert client.get(path, headers=owner.headers).content == second
    assert not get_storage().exists(old_key)  # the replaced object is gone
    db.expire_all()
    assert db.query(MediaFile).count() == 1

    assert client.delete(path, headers=owner.headers).status_code == 204
    assert client.get(path, headers=owner.headers).status_code == 404
    assert list(get_storage().list(f"events/{eid}/media/")) == []


def test_session_slides_and_event_logo(client, owner, event):
    eid = event["id"]
    session = client.post(f"/api/v1/events/{eid}/sessions", headers=owner.headers,
                          json={"title": "Talk"}).json()
    slides = client.put(f"/api/v1/events/{eid}/sessions/{session['id']}/slides",
                        headers=owner.headers, files={"file": ("deck.pdf", pdf(), "x/y")})
    assert slides.status_code == 200
    assert slides.json()["slides"].endswith("/slides")
    logo = client.put(f"/api/v1/events/{eid}/logo", headers=owner.headers,
                      files={"file": ("logo.png", png(), "image/png")})
    assert logo.status_code == 200 and logo.json()["logo"] == f"/api/v1/events/{eid}/logo"
    assert client.get(f"/api/v1/events/{eid}/logo", headers=owner.headers).status_code == 200


def test_executable_posing_as_png_is_refused(client, owner, event):
    eid = event["id"]
    fake = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"
    response = client.put(f"/api/v1/events/{eid}/logo", headers=owner.headers,
                          files={"file": ("logo.png", fake, "image/png")})
    assert response.status_code == 422
    assert "not an accepted image" in response.json()["detail"]
    # a real image is not accepted as a recording either
    session = client.post(f"/api/v1/events/{eid}/sessions", headers=owner.headers,
                          json={"title": "Talk"}).json()
    response = client.put(f"/api/v1/events/{eid}/sessions/{session['id']}/video",
                          headers=owner.headers, files={"file": ("v.mp4", png(), "video/mp4")})
    assert response.status_code == 422
    assert list(get_storage().list("events/")) == []


def test_oversize_upload_is_413_and_stores_nothing(client, owner, event, monkeypatch):
    from eventport.config import get_settings

    monkeypatch.setenv("EVENTPORT_MEDIA_MAX_BYTES", "5000")
    get_settings.cache_clear()
    big = png("green", 400) + b"\x00" * 10_000
    response = client.put(f"/api/v1/events/{event['id']}/logo", headers=owner.headers,
                          files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert list(get_storage().list("events/")) == []
    assert client.get(f"/api/v1/events/{event['id']}", headers=owner.headers).json()["logo"] is None


def test_deleting_event_deletes_its_media(client, owner, event):
    eid = event["id"]
    client.put(f"/api/v1/events/{eid}/logo", headers=owner.headers,
               files={"file": ("logo.png", png(), "image/png")})
    assert list(get_storage().list(f"events/{eid}/"))
    client.delete(f"/api/v1/events/{eid}", headers=owner.headers)
    assert list(get_storage().list(f"events/{eid}/")) == []


def test_malformed_uploads_are_4xx_and_store_nothing(client, owner, event):
    path = f"/api/v1/events/{event['id']}/logo"
    not_multipart = client.put(path, headers={**owner.headers, "content-type": "image/png"},
                               content=png())
    assert not_multipart.status_code == 422
    wrong_field = client.put(path, headers=owner.headers,
                             files={"photo": ("logo.png", png(), "image/png")})
    assert wrong_field.status_code == 422
    assert "file" in wrong_field.json()["detail"]
    boundary = "XyZ"
    truncated = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png()
    multipart = f"multipart/form-data; boundary={boundary}"
    response = client.put(path, headers={**owner.headers, "content-type": multipart},
                          content=truncated)
    assert response.status_code == 422, response.text
    assert list(get_storage().list("events/")) == []


def test_streamed_upload_without_length_is_limited(client, owner, event, monkeypatch):
    """A chunked body has no Content-Length to check up front: the limit holds mid-stream."""
    from eventport.config import get_settings

    monkeypatch.setenv("EVENTPORT_MEDIA_MAX_BYTES", "200000")
    get_settings.cache_clear()
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()

    def body():
        yield head + png()
        for _ in range(50):
            yield b"\x00" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.put(f"/api/v1/events/{event['id']}/logo",
                          headers={**owner.headers,
                                   "content-type": f"multipart/form-data; boundary={boundary}"},
                          content=body())
    assert response.status_code == 413
    assert list(get_storage().list("events/")) == []


def test_hostile_multipart_bodies_are_422(client, owner, event):
    """Garbage with a valid boundary, a boundary python-multipart refuses, and a flood of
    small fields (not counted against the file limit) — each a clear 422, nothing stored."""
    path = f"/api/v1/events/{event['id']}/logo"
    cases = [
        ("multipart/form-data; boundary=abc", b"--abc\r\n\x00\x01garbage\r\n\r\n--abc--"),
        ("multipart/form-data; boundary=a\x7fb", b"--a\x7fb\r\n\r\n"),
        ("multipart/form-data; boundary=flood",
         b"".join(f"--flood\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n"
                  .encode() for i in range(100)) + b"--flood--\r\n"),
    ]
    for content_type, body in cases:
        response = client.put(path, headers={**owner.headers, "content-type": content_type},
                              content=body)
        assert response.status_code == 422, (content_type, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert list(get_storage().list("events/")) == []
