"""Progress bars for long runs: one bar per stage, advanced as the stage's batches complete."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_bars: dict[str, int] = {}
_progress: Progress | None = None


def report_progress(stage: str, done: int | None, total: int | None) -> None:
    """The flows' on_progress hook: a stage started (done 0), completed batches, or ended (done None).

    A module function, not a closure, so it survives being passed as a flow parameter.
    """
    if _progress is None:
        return
    if stage not in _bars:
        _bars[stage] = _progress.add_task(stage, total=None)
    bar = _bars[stage]
    if done is None:
        finished = _progress.tasks[_bars[stage]].completed or 1
        _progress.update(bar, total=finished, completed=finished)
    elif total is not None:
        _progress.update(bar, total=total, completed=done)


@contextmanager
def showing_progress(console: Console) -> Iterator:
    """Show the stages' bars on `console` while the block runs; yields the hook to pass to a flow."""
    global _progress
    columns = (SpinnerColumn(), TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        _progress = progress
        _bars.clear()
        try:
            yield report_progress
        finally:
            _progress = None
