"""Extraction quality and speed: wirehouse against trafilatura's defaults on the shared sets.

    .venv/bin/python bench/bench_extract.py [--limit N] [--sets wcxb-dev scrapinghub]

Runs `../shared/eval/score_extraction.py` twice per set in ../shared/data/extraction/: once on
wirehouse's batch command (the `wirehouse extract` console script beside this Python when it is
installed, else `python -m wirehouse.tasks.extract_pool`) and once with --baseline. The pages are
read where they are; nothing is copied into the repository. Prints one table; never fails a build.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
SCORER = SHARED / "eval" / "score_extraction.py"
SETS = SHARED / "data" / "extraction"
METRICS = ("bow_f1", "leak", "keep", "title", "author", "date", "pages_s")
# Issue 3's targets per set (leak is a ceiling, the rest floors; speed is x the baseline's pages/s).
TARGETS = {
    "wcxb-dev": {"bow_f1": ">=0.970", "leak": "<=0.010", "keep": ">=0.930", "title": ">=0.95", "author": ">=0.90",
                 "date": ">=0.95"},
    "scrapinghub": {"bow_f1": ">=0.975"},
    "readability": {"bow_f1": ">=0.960"},
}
SPEED_TARGET = ">=0.85"


def extract_command() -> str:
    """The batch extraction command, with the scorer's {manifest} and {output} placeholders."""
    script = Path(sys.executable).with_name("wirehouse")
    base = [str(script), "extract"] if script.exists() else [sys.executable, "-m", "wirehouse.tasks.extract_pool"]
    return shlex.join(base) + " --input {manifest} --output {output}"


def score(set_dir: Path, mode: list[str], limit: int | None) -> dict:
    """The scorer's JSON result for one set, run on our command or on the baseline."""
    argv = [sys.executable, str(SCORER), str(set_dir), "--json", *mode]
    if limit:
        argv += ["--limit", str(limit)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cell(value) -> str:
    return f"{value:8.3f}" if isinstance(value, float) else f"{'-' if value is None else value:>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="score only the first N pages of each set")
    parser.add_argument("--sets", nargs="*", help="set names (default: every set)")
    args = parser.parse_args()
    set_dirs = sorted(d for d in SETS.iterdir() if (d / "pages.jsonl").is_file())
    if args.sets:
        set_dirs = [d for d in set_dirs if d.name in args.sets]

    print("set".ljust(13) + "run".ljust(10) + "".join(m.rjust(8) for m in METRICS) + "speed x".rjust(9))
    for set_dir in set_dirs:
        ours = score(set_dir, ["--cmd", extract_command()], args.limit)
        baseline = score(set_dir, ["--baseline"], args.limit)
        ratio = ours["pages_s"] / baseline["pages_s"] if baseline.get("pages_s") else None
        for name, result, extra in (("wirehouse", ours, cell(ratio)), ("baseline", baseline, "")):
            print(set_dir.name.ljust(13) + name.ljust(10) + "".join(cell(result.get(m)) for m in METRICS) + extra)
        targets = TARGETS.get(set_dir.name, {})
        print(set_dir.name.ljust(13) + "target".ljust(10) + "".join(cell(targets.get(m)) for m in METRICS)
              + SPEED_TARGET.rjust(9))


if __name__ == "__main__":
    main()
