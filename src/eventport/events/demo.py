"""A realistic demo event, generated locally (no network): what `make run` shows.

Three days in Berlin (crossing no DST change), four rooms, three tracks, 48 sessions,
24 speakers with generated portrait images, four sponsors with logos and slides for a
dozen talks. Everything is seeded, so two demo loads produce identical bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import time
import zoneinfo
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.accounts.service import create_user
from eventport.events import media, service
from eventport.events.models import Event
from eventport.events.resources import EVENT, RESOURCES, MediaSlot
from eventport.storage import Storage

DEMO_EMAIL = "demo@eventport.example"
DEMO_PASSWORD = "eventport-demo"
_FIXED_TIME = time.gmtime(1767225600)  # 2026-01-01: PDFs must not embed "now"

FIRST = ["Ada", "Grace", "Alan", "Margaret", "Linus", "Barbara", "Ken", "Radia", "Donald",
         "Frances", "Guido", "Katherine", "Tim", "Hedy", "Dennis", "Sophie", "Edsger",
         "Shafi", "John", "Karen", "Niklaus", "Lynn", "Bjarne", "Anita"]
LAST = ["Lovelace", "Hopper", "Turing", "Hamilton", "Torvalds", "Liskov", "Thompson",
        "Perlman", "Knuth", "Allen", "van Rossum", "Johnson", "Berners-Lee", "Lamarr",
        "Ritchie", "Wilson", "Dijkstra", "Goldwasser", "McCarthy", "Spärck Jones", "Wirth",
        "Conway", "Stroustrup", "Borg"]
TOPICS = ["Streaming archives", "Zero-downtime migrations", "Accessible schedules",
          "Offline-first apps", "Observability on a budget", "Type hints in practice",
          "Postgres internals", "Object storage for humans", "Timezones are hard",
          "Testing with real servers", "Caching without tears", "Security by default",
          "Design systems", "Community moderation", "Open data for events",
          "Async Python"]
ROOMS = ["Main Hall", "Room Ada", "Room Grace", "Workshop Loft"]
TRACKS = [("Engineering", "#1f6feb"), ("Community", "#2da44e"), ("Design", "#bf3989")]
TYPES = [("Talk", 30), ("Long talk", 45), ("Workshop", 90)]
SPONSORS = [("Acme Storage", 1, "Gold"), ("Tiny Cloud", 2, "Silver"),
            ("Open Mirror e.V.", 3, "Community"), ("Coffee & Code", 3, "Community")]


def _portrait(rng: random.Random, initials: str) -> bytes:
    image = Image.new("RGB", (240, 240), tuple(rng.randrange(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(240), rng.randrange(240)
        r = rng.randrange(10, 60)
        draw.ellipse((x - r, y - r, x + r, y + r),
                     fill=tuple(rng.randrange(0, 255) for _ in range(3)))
    draw.text((100, 110), initials, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _logo(rng: random.Random, name: str) -> bytes:
    image = Image.new("RGB", (320, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 112, 112), fill=tuple(rng.randrange(0, 200) for _ in range(3)))
    draw.text((124, 52), name, fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _slides(title: str) -> bytes:
    pages = []
    for n in range(3):
        page = Image.new("RGB", (800, 450), (250, 250, 250))
        ImageDraw.Draw(page).text((40, 200), f"{title} — slide {n + 1}", fill=(0, 0, 0))
        pages.append(page)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:],
                  creationDate=_FIXED_TIME, modDate=_FIXED_TIME)
    return out.getvalue()


def demo_user(db: Session) -> User:
    user = db.scalar(select(User).where(User.email == DEMO_EMAIL))
    return user or create_user(db, DEMO_EMAIL, DEMO_PASSWORD, name="Demo Organizer")


def load_demo(db: Session, storage: Storage, *, only_if_empty: bool = False) -> Event | None:
    """Create the demo event owned by the demo user; flushes, the caller commits."""
    if only_if_empty and db.scalar(select(Event.id).limit(1)) is not None:
        return None
    demo = _Demo(db, storage)
    rooms = [demo.create("microlocations", {"name": n, "floor": i // 2, "position": i})
             for i, n in enumerate(ROOMS)]
    tracks = [demo.create("tracks", {"name": n, "color": c,
                                     "description": f"All about {n.lower()}."})
              for n, c in TRACKS]
    types = [demo.create("session-types", {"name": n, "length": m}) for n, m in TYPES]
    speakers = [demo.speaker(i) for i in range(24)]
    for day in range(3):
        for slot in range(4):
            for r, room in enumerate(rooms):
                demo.session(day, slot, r, room, tracks, types, speakers)
    demo.sponsors()
    demo.extras()
    db.flush()
    return demo.event


class _Demo:
    """The demo event being built; one method per kind of thing it holds.

    The methods draw from one seeded generator in a fixed order (logo, speakers, sponsors),
    so two demo loads produce identical bytes.
    """

    def __init__(self, db: Session, storage: Storage) -> None:
        self.db = db
        self.storage = storage
        self.rng = random.Random(2026)
        self.first_day = dt.datetime(2026, 6, 10, 9, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
        self.event = service.create_event(db, demo_user(db), {
            "name": "EventCon 2026",
            "description": "Three days about building software for events — and everything "
                           "around it.",
            "starts_at": self.first_day,
            "ends_at": self.first_day + dt.timedelta(days=2, hours=9),
            "timezone": "Europe/Berlin",
            "location_name": "Kulturbrauerei, Berlin",
            "latitude": 52.5388,
            "longitude": 13.4131,
            "owner_name": "EventCon e.V.",
            "contact_email": "hello@eventcon.example",
            "external_url": "https://eventcon.example/",
            "ticket_url": "https://eventcon.example/tickets",
            "code_of_conduct": "Be excellent to each other.",
            "state": "published",
        })
        self.attach(self.event, EVENT.media[0], _logo(self.rng, "EventCon 2026"),
                    "eventcon-logo.png")

    def create(self, name: str, data: dict[str, Any]) -> Any:
        return service.create_item(self.db, RESOURCES[name], self.event, data)

    def attach(self, owner: object, slot: MediaSlot, data: bytes, filename: str) -> None:
        media.store_media(self.db, self.storage, self.event, owner, slot, [data], filename,
                          10**7)

    def speaker(self, i: int) -> Any:
        name = f"{FIRST[i]} {LAST[i]}"
        speaker = self.create("speakers", {
            "name": name,
            "email": f"{FIRST[i].lower()}@speakers.example",
            "organisation": self.rng.choice(["Acme", "Tiny Cloud", "University of Somewhere",
                                             "Freelance", "Open Mirror e.V."]),
            "country": self.rng.choice(["Germany", "Singapore", "Brazil", "Kenya", "Canada"]),
            "short_biography": f"{name} builds things and talks about them.",
            "website": f"https://{FIRST[i].lower()}.example",
        })
        initials = "".join(part[0] for part in name.split()[:2])
        self.attach(speaker, RESOURCES["speakers"].media[0], _portrait(self.rng, initials),
                    f"{name.lower().replace(' ', '-')}.jpg")
        return speaker

    def session(self, day: int, slot: int, r: int, room: Any, tracks: list[Any],
                types: list[Any], speakers: list[Any]) -> None:
        n = day * 16 + slot * 4 + r
        kind = types[2] if r == 3 else types[n % 2]
        start = self.first_day + dt.timedelta(days=day, hours=slot * 2)
        session = self.create("sessions", {
            "title": f"{TOPICS[n % len(TOPICS)]} ({day + 1}.{slot + 1}.{r + 1})",
            "short_abstract": f"What we learned about {TOPICS[n % len(TOPICS)].lower()}.",
            "long_abstract": "A deeper look, with examples & lessons <learned>.",
            "starts_at": start,
            "ends_at": start + dt.timedelta(minutes=kind.length),
            "language": "en" if n % 5 else "de",
            "level": ["Beginner", "Intermediate", "Advanced"][n % 3],
            "state": "confirmed" if n % 7 else "accepted",
            "track_id": tracks[n % 3].id,
            "session_type_id": kind.id,
            "microlocation_id": room.id,
            "speaker_ids": sorted({speakers[n % 24].id, speakers[(n * 7) % 24].id}),
        })
        if n % 4 == 0:
            self.attach(session, RESOURCES["sessions"].media[0], _slides(session.title),
                        f"slides-{n}.pdf")

    def sponsors(self) -> None:
        for name, level, kind_name in SPONSORS:
            sponsor = self.create("sponsors", {"name": name, "level": level,
                                               "sponsor_type": kind_name,
                                               "url": "https://sponsor.example/"})
            self.attach(sponsor, RESOURCES["sponsors"].media[0], _logo(self.rng, name),
                        f"{name}.png")

    def extras(self) -> None:
        self.create("social-links", {"name": "Mastodon",
                                     "link": "https://mastodon.example/@eventcon"})
        self.create("social-links", {"name": "Website", "link": "https://eventcon.example/"})
        for ident, kind_name, required in [("title", "text", True), ("abstract", "text", True),
                                           ("slides", "upload", False)]:
            self.create("forms", {"form": "session", "field_identifier": ident,
                                  "type": kind_name, "is_required": required,
                                  "is_included": True})
