"""`make bench`: every benchmark in bench/, one after another, each in its own process.

bench_scale.py runs at 10,000 pages, the size its ratio target is set for; `make bench
SCALE_PAGES="10000 100000"` adds the 100,000-page run (over an hour on two cores) and prints the
time per page at 100k against 10k from the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHES = [
    ["bench_pipeline.py"], ["bench_extract.py"], ["bench_fetch.py"], ["bench_enrich.py"], ["bench_dedup.py"], ["bench_reads.py"],
    ["bench_scale.py", "--pages", *os.environ.get("SCALE_PAGES", "10000").split()],
]


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name, *args in BENCHES:
        print(f"\n=== {' '.join([name, *args])} ===", flush=True)
        if subprocess.call([sys.executable, str(here / name), *args]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
