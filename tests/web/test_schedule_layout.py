"""The schedule view's lanes: overlapping sessions of one room sit side by side."""

from __future__ import annotations

from eventport.web.schedule import Slot, assign_lanes


def slot(id: int, offset: int, length: int) -> Slot:
    return Slot(id=id, title="", start="", end="", offset=offset, length=length, speakers="",
                track="", colour="", room="")


def test_overlaps_get_lanes_and_separate_clusters_stay_full_width() -> None:
    a, b, c, d = slot(1, 0, 60), slot(2, 30, 60), slot(3, 60, 30), slot(4, 120, 30)
    assign_lanes([d, c, b, a])
    assert (a.lane, b.lane, c.lane) == (0, 1, 0)  # c reuses a's lane once a has ended
    assert a.lanes == b.lanes == c.lanes == 2
    assert (d.lane, d.lanes) == (0, 1)  # after the cluster: the room's whole width
