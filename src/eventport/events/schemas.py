"""What a client may write for each program resource, validated once.

Each ``*Fields`` model lists the writable fields with their rules; create, update
(every field optional) and read (plus ``id``, media and relations) models are derived
from it in :mod:`eventport.events.resources`, so a field is declared exactly once.
Naive datetimes are accepted and read as wall-clock time in the event's timezone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    TypeAdapter,
    field_validator,
)

from eventport.events.models import EventState, Privacy, SessionState
from eventport.naming import IDENTIFIER_PATTERN

_url_adapter = TypeAdapter(HttpUrl)
#: Built once: constructing a TypeAdapter compiles a pydantic-core schema (~2 ms), which
#: per speaker cost seconds per import and per export read-back (issue 15).
_email_adapter = TypeAdapter(EmailStr)


def _check_url(value: str) -> str:
    """Links must be http(s): a ``javascript:`` URL in a schedule app is an attack."""
    if value:
        _url_adapter.validate_python(value)
    return value


def _check_email(value: str) -> str:
    if value:
        _email_adapter.validate_python(value)
    return value


def _check_year(value: dt.datetime) -> dt.datetime:
    """Far-future or ancient dates overflow timezone arithmetic and no event needs them."""
    if not 1900 <= value.year <= 2200:
        raise ValueError("dates must lie between the years 1900 and 2200")
    return value


Url = Annotated[str, Field(max_length=1000), AfterValidator(_check_url)]
Moment = Annotated[dt.datetime, AfterValidator(_check_year)]
OptionalEmail = Annotated[str, Field(max_length=320), AfterValidator(_check_email)]
Text = Annotated[str, Field(max_length=100_000)]
Name = Annotated[str, Field(min_length=1, max_length=300)]
#: Names of program entries (rooms, tracks, types, speakers, sponsors): their columns hold 200.
ProgramName = Annotated[str, Field(min_length=1, max_length=200)]
Short = Annotated[str, Field(max_length=300)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
#: Row ids fit a 32-bit signed integer column on every database.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: Public event identifiers appear in URLs, file names and headers: keep them plain.


class EventFields(_Fields):
    name: Name
    identifier: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)] | None = Field(
        default=None, description="Public, URL-safe id; generated when omitted."
    )
    description: Text = ""
    starts_at: Moment
    ends_at: Moment
    timezone: str = "UTC"
    location_name: Short = ""
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    logo_url: Url = ""
    background_url: Url = ""
    owner_name: Short = ""
    owner_description: Text = ""
    contact_email: OptionalEmail = ""
    external_url: Url = ""
    ticket_url: Url = ""
    privacy: Literal[Privacy.PUBLIC, Privacy.PRIVATE] = Privacy.PUBLIC
    code_of_conduct: Text = ""
    state: Literal[EventState.DRAFT, EventState.PUBLISHED] = EventState.DRAFT

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as "
                             "'Europe/Berlin'") from None
        return value


class MicrolocationFields(_Fields):
    name: ProgramName
    floor: Annotated[int, Field(ge=-100, le=1000)] | None = None
    position: Annotated[int, Field(ge=0, le=100_000)] = 0
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class TrackFields(_Fields):
    name: ProgramName
    description: Text = ""
    color: Color = "#4a90d9"


class SessionTypeFields(_Fields):
    name: ProgramName
    length: Annotated[int, Field(ge=1, le=24 * 60, description="minutes")] = 30


class SessionFields(_Fields):
    title: Annotated[str, Field(min_length=1, max_length=500)]
    subtitle: Annotated[str, Field(max_length=500)] = ""
    short_abstract: Text = ""
    long_abstract: Text = ""
    comments: Text = ""
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    language: Annotated[str, Field(max_length=35)] = ""
    level: Annotated[str, Field(max_length=50)] = ""
    state: Literal[
        SessionState.DRAFT,
        SessionState.SUBMITTED,
        SessionState.ACCEPTED,
        SessionState.CONFIRMED,
        SessionState.REJECTED,
        SessionState.WITHDRAWN,
    ] = SessionState.DRAFT
    track_id: Id | None = None
    session_type_id: Id | None = None
    microlocation_id: Id | None = None
    speaker_ids: list[Id] = Field(default_factory=list, max_length=200)
    slides_url: Url = ""
    audio_url: Url = ""
    video_url: Url = ""
    is_featured: bool = False


class SpeakerFields(_Fields):
    name: ProgramName
    email: OptionalEmail = ""
    mobile: Annotated[str, Field(max_length=50)] = ""
    photo_url: Url = ""
    organisation: Short = ""
    position: Short = ""
    country: Annotated[str, Field(max_length=100)] = ""
    city: Annotated[str, Field(max_length=100)] = ""
    short_biography: Text = ""
    long_biography: Text = ""
    website: Url = ""
    twitter: Short = ""
    mastodon: Short = ""
    github: Short = ""
    linkedin: Short = ""
    facebook: Short = ""


class SponsorFields(_Fields):
    name: ProgramName
    description: Text = ""
    url: Url = ""
    level: Annotated[int, Field(ge=0, le=1000)] = 0
    sponsor_type: Annotated[str, Field(max_length=100)] = ""
    logo_url: Url = ""


class SocialLinkFields(_Fields):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    link: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_check_url)]


class FormFieldFields(_Fields):
    form: Annotated[str, Field(min_length=1, max_length=50)]
    field_identifier: Annotated[str, Field(min_length=1, max_length=100)]
    type: Annotated[str, Field(min_length=1, max_length=50)] = "text"
    is_required: bool = False
    is_included: bool = False
