"""The judges: the c3voc XSD and JSON schema, RFC 6321's RELAX NG schema (via jing)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from tests.formats.conftest import DATA

XSD = DATA / "voc-schedule" / "xsd" / "schedule.xml.xsd"
JSON_SCHEMA = DATA / "voc-schedule" / "json" / "schema.json"
XCAL_RNC = DATA / "xcal" / "rfc6321-icalendar-2.0.rnc"


@functools.cache
def _xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@functools.cache
def _json_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(JSON_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid_schedule_xml(data: bytes) -> None:
    errors = list(_xsd().iter_errors(data.decode("utf-8")))
    assert not errors, "\n".join(str(e) for e in errors[:3])


def assert_valid_schedule_json(data: bytes) -> None:
    errors = sorted(_json_validator().iter_errors(json.loads(data)), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_valid_xcal(data: bytes) -> None:
    """Validates against RFC 6321's schema with jing; in CI a missing jing is a failure."""
    if shutil.which("jing") is None:
        if os.environ.get("CI"):
            pytest.fail("jing is not installed (Debian package 'jing'); CI must validate xCal")
        pytest.skip("jing not installed: apt-get install jing")
    with tempfile.NamedTemporaryFile(suffix=".xcs") as handle:
        handle.write(data)
        handle.flush()
        result = subprocess.run(["jing", "-c", str(XCAL_RNC), handle.name],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def data_file(*parts: str) -> Path:
    return DATA.joinpath(*parts)
