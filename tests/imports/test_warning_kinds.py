"""Warnings grouped by kind: what the Import page shows as "N warnings of K kinds"."""

from __future__ import annotations

import io

from eventport.imports.readers import read_upload
from eventport.imports.warning_kinds import group, kind_of
from tests.imports.conftest import SCHEDULES


def test_fosdem_2007_dry_run_warnings_fall_into_three_kinds() -> None:
    data, _ = read_upload(io.BytesIO((SCHEDULES / "fosdem-2007-schedule.xml").read_bytes()),
                          None)
    groups = group(data.warnings)
    assert len(data.warnings) == 51
    assert [(g["kind"], g["count"]) for g in groups] == [
        ("Invalid slides_url values, left out", 49), ("Time zone", 1),
        ("Links that are not slides, audio or video", 1)]
    assert sum(len(g["warnings"]) for g in groups) == 51


def test_unknown_sentences_group_by_their_shape() -> None:
    assert kind_of("room 'A' has 3 chairs") == kind_of("room 'B' has 12 chairs")
    assert group([]) == []
