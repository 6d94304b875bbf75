from rich.console import Console

from wirehouse.progress import showing_progress


def test_stage_bars_follow_the_flow_hook():
    console = Console(record=True, width=100, force_terminal=False)
    with showing_progress(console) as on_progress:
        on_progress("fetch", 0, None)
        on_progress("fetch", 0, 4)
        for done in range(1, 5):
            on_progress("fetch", done, 4)
        on_progress("fetch", None, None)
        on_progress("dedup", 0, None)
        on_progress("dedup", None, None)
    text = console.export_text()
    assert "fetch" in text and "4/4" in text
    assert "dedup" in text and "1/1" in text
    on_progress("late", 0, 1)  # after the block: ignored, no error
