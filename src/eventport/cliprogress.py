"""The CLI's progress bar for jobs that run in stages (exports, imports).

Stages count different things: ``media`` counts bytes, ``schedule`` counts files,
``saving`` counts records. A byte column on every stage printed "3/4 bytes 76 bytes/s" for
four schedule files, so the amount column shows bytes and speed only for the stages that
count bytes, and "3/4" for the rest; each stage starts its own count (and speed) afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text

#: Stages whose ``done``/``total`` are bytes.
BYTE_STAGES = frozenset({"media"})

OnProgress = Callable[[str, int, int], None]


class _AmountColumn(ProgressColumn):
    """``12.3/40.0 MB 8.1 MB/s`` for a byte stage, ``3/4`` for a counting one."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()
        self._speed = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.description.strip() in BYTE_STAGES:
            return Text.assemble(self._bytes.render(task), " ", self._speed.render(task))
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


@contextmanager
def stage_progress(first_stage: str) -> Iterator[OnProgress]:
    """A live bar; yields the ``on_progress(stage, done, total)`` callback to hand a job."""
    with Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), _AmountColumn(),
                  TimeElapsedColumn()) as bar:
        task = bar.add_task(first_stage, total=None)
        current = [first_stage]

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage != current[0]:
                current[0] = stage
                bar.reset(task, description=stage, total=total or None)
            bar.update(task, completed=done, total=total or None)

        yield on_progress
