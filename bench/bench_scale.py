"""Throughput at scale: each heavy stage alone with its library called directly, then the whole flow.

    python bench/bench_scale.py                    # 1,000 pages: a quick look
    python bench/bench_scale.py --pages 10000      # what `make bench` runs: whole flow >= 0.8 x slowest stage
    python bench/bench_scale.py --pages 10000 100000  # and time per page at 100k within 1.2 x of 10k
                                                      # (10k run again after 100k: both sides see the drift)
    python bench/bench_scale.py --pages 10000 100000 --stand-in-ner  # memory only, in about half the time

One run, the same pages (bench/corpus.py, served through a proxy on 127.0.0.1):

- trafilatura `extract` in a ProcessPoolExecutor of one worker per core;
- spaCy `nlp.pipe` with n_process = cores on the texts trafilatura gave (the pipeline's model
  and components), read before the flows and again after each (a flow's ratio is to the mean
  of the readings just before and after it);
- rensa MinHash signatures of the same texts;
- the whole ingest flow (discover, fetch over HTTP, extract, dedup, enrich, stories, load) into a
  temporary warehouse, in a child process whose peak memory (with its children) is sampled; the
  child also notes each new high of its own RSS and the wirehouse code its threads ran then.

The direct stages run on the first `--direct-pages` pages (a rate, not a total); the flow on all
of them. Prefect's one-off server start is left out of the flow's time by a warm-up flow; all the
per-run work is in. The corpus is rendered to disk before the flow starts and served from there.
Prints pages per second, the ratio of the flow to the slowest stage, time per page, peak RSS and
the CPU seconds of each kind of process during the timed run.

With more than one size, the smallest runs again after the largest (unless --no-repeat), and
the largest's time a page is compared with each and with their mean: over a long run this
machine's speed drifts (spaCy alone has read 10% slower after a 100k run than before it), and
a smallest run made only before the largest would put all of that drift on the largest; for the
same reason spaCy alone is read again after each flow.

With --stand-in-ner the flows tag names with a rule-based stand-in for the spaCy model
(bench/stand_in_ner.py) and the stages alone are not run: the memory numbers and time per page
across sizes, not the ratio, which holds only for the real model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from wirehouse.runtime import configure_environment

# As `wirehouse run` starts a flow: Prefect quiet and patient, glibc's malloc tuned (the flow's
# child process inherits the variables).
configure_environment()
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import Corpus, serve_corpus  # noqa: E402
from heap import c_heap  # noqa: E402

CORES = os.cpu_count() or 1
SPACY = "spaCy nlp.pipe"


def _extract(job: tuple[str, str]) -> str:
    import trafilatura

    html, url = job
    return trafilatura.extract(html, url=url, favor_precision=True, include_comments=False, with_metadata=True) or ""


def direct_stages(corpus: Corpus, count: int) -> tuple[dict[str, float], list[str]]:
    """Pages per second of each stage alone, on the corpus's first `count` pages."""
    from rensa import RMinHash

    from wirehouse.config.settings import load_settings

    settings = load_settings()
    jobs = [(corpus.html(i).decode(), corpus.url(i)) for i in range(count)]
    rates = {}
    with ProcessPoolExecutor(max_workers=CORES) as pool:
        list(pool.map(_extract, jobs[: CORES * 2]))  # the workers' imports are not the stage's work
        started = time.perf_counter()
        texts = list(pool.map(_extract, jobs, chunksize=16))
        rates["trafilatura extract"] = count / (time.perf_counter() - started)
    rates[SPACY] = spacy_rate(texts)
    started = time.perf_counter()
    for text in texts:
        words = text.lower().split()
        minhash = RMinHash(num_perm=settings.dedup.num_perm, seed=settings.dedup.seed)
        minhash.update(sorted({" ".join(words[i : i + settings.dedup.shingle_size]) for i in range(len(words))}))
        minhash.digest()
    rates["rensa MinHash"] = count / (time.perf_counter() - started)
    return rates, texts


def spacy_rate(texts: list[str]) -> float:
    """Texts per second through the pipeline's spaCy model, `nlp.pipe` with one process per core."""
    from wirehouse.config.settings import load_settings
    from wirehouse.tasks.enrich import load_nlp

    settings = load_settings()
    nlp = load_nlp(settings.enrich.model)
    started = time.perf_counter()
    for _ in nlp.pipe(texts, n_process=CORES, batch_size=settings.enrich.batch_size):
        pass
    return len(texts) / (time.perf_counter() - started)


def _tree_rss(process, cpu: dict[int, tuple[str, float]] | None = None) -> int:
    """Resident bytes of a process and all its children; records each one's CPU seconds so far in `cpu`."""
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
            if cpu is not None:
                times = member.cpu_times()
                kind = cpu[member.pid][0] if member.pid in cpu else _kind(member, process)
                cpu[member.pid] = (kind, times.user + times.system)
        except psutil.Error:
            pass
    return total


def _kind(member, flow_process) -> str:
    """What a process of the flow's tree is, for the CPU split: by its command line."""
    if member.pid == flow_process.pid:
        return "flow process"
    command = " ".join(member.cmdline())
    # The extraction and enrichment workers come from one fork server and carry its command line.
    for marker, kind in (("forkserver", "workers"), ("uvicorn", "Prefect server")):
        if marker in command:
            return kind
    return "other"


def cpu_split(cpu: dict[int, tuple[str, float]], before: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds by kind of process since `before` (a recycled worker counts up to its last sample, 0.25 s before it exited)."""
    split: dict[str, float] = {}
    for pid, (kind, seconds) in cpu.items():
        split[kind] = split.get(kind, 0.0) + seconds - before.get(pid, (kind, 0.0))[1]
    return dict(sorted(split.items(), key=lambda item: -item[1]))


def whole_flow(served, pages: int) -> dict:
    """Run the flow in a child process; its report, wall time, peak RSS (with its children) and CPU split.

    The CPU seconds are counted from the moment the child starts its timed run (`started_flag`):
    imports, Prefect's server start and the warm-up flow are not the run's work. The bench
    process's own (the corpus server and this sampler) likewise.
    """
    with tempfile.TemporaryDirectory(prefix="wirehouse-scale-") as tmp:
        spec = Path(tmp) / "run.json"
        spec.write_text(json.dumps({"sources": served.sources(), "proxy": served.proxy_url, "warehouse": str(Path(tmp) / "wh")}))
        child = subprocess.Popen([sys.executable, __file__, "--flow-child", str(spec)], stdout=subprocess.PIPE, text=True)
        peak, cpu, before, timeline = [0], {}, {}, []
        try:
            import psutil

            process = psutil.Process(child.pid)

            def sample() -> None:
                while child.poll() is None:
                    peak[0] = max(peak[0], _tree_rss(process, cpu))
                    if not before and started_flag(spec).exists():
                        before.update(cpu, bench=_bench_cpu())
                    if before:  # (time, CPU seconds of every process so far): where the cores waited
                        timeline.append((time.perf_counter(), sum(seconds for _, seconds in cpu.values()) + time.process_time()))
                    time.sleep(0.25)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        except ImportError:
            sampler = None
        out, _ = child.communicate()
        if sampler:
            sampler.join()
        if child.returncode != 0:
            raise SystemExit(f"the flow failed ({child.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        if not peak[0]:  # no psutil: the largest single process the kernel saw
            import resource

            peak[0] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        result["peak_rss"] = peak[0]
        result["cpu"] = cpu_split({**cpu, "bench": _bench_cpu()}, before) if before else {}
        result["idle"] = idle_by_tenth(timeline)
        return result


def idle_by_tenth(timeline: list[tuple[float, float]]) -> list[float]:
    """Core-seconds no process of the run used, in each tenth of the timed run (from `timeline`'s samples)."""
    if len(timeline) < 2:
        return []
    (start, _), (end, _) = timeline[0], timeline[-1]
    tenths = [0.0] * 10
    for (t0, c0), (t1, c1) in zip(timeline, timeline[1:]):
        tenth = min(int((t0 - start) / (end - start) * 10), 9)
        tenths[tenth] += max(CORES * (t1 - t0) - (c1 - c0), 0.0)
    return tenths


def _bench_cpu() -> tuple[str, float]:
    """This process's CPU seconds so far (the corpus server's threads and the sampler), as a `cpu` entry."""
    return ("corpus server + sampler", time.process_time())


def started_flag(spec: Path) -> Path:
    """The file the flow child creates as its timed run starts."""
    return spec.with_name("started")


def flow_child(spec_path: str) -> None:
    """The child's side: warm Prefect up, run one ingest, print its numbers as JSON."""
    from prefect import flow

    from wirehouse.config.settings import load_settings
    from wirehouse.config.sources import Source
    from wirehouse.flows.ingest import ingest

    spec = json.loads(Path(spec_path).read_text())
    flow(name="warm-up")(lambda: None)()
    settings = load_settings()
    settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"proxy": spec["proxy"]})})
    sources = [Source(**source) for source in spec["sources"]]
    started_flag(Path(spec_path)).touch()
    started = time.perf_counter()
    slice_rss: list[int] = []
    slice_peaks: list[int] = []
    with PeakWatch() as peaks:
        report = ingest(sources, Path(spec["warehouse"]), settings, on_progress=slice_logger(started, slice_rss, slice_peaks))
    wall = time.perf_counter() - started
    import resource

    print(json.dumps({
        "wall": wall, "own_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "stage_seconds": report.stage_seconds, "fetched": report.pages_fetched, "failed": report.pages_failed,
        "articles": report.articles_new + report.articles_updated, "near": report.near_duplicates,
        "exact": report.exact_duplicates, "mentions": report.entities, "runs": len(report.slice_runs), "slice_rss": slice_rss, "slice_peaks": slice_peaks,
        "highs": peaks.highs[-PeakWatch.SHOWN:],
    }))


class PeakWatch:
    """Reads this process's RSS every `INTERVAL` seconds and, at each new high (by `STEP` bytes),
    keeps what its threads were running in wirehouse's own code then: what makes the peak."""

    INTERVAL, STEP, SHOWN = 0.02, 4 << 20, 6

    def __init__(self) -> None:
        self.highs: list[tuple[float, int, list[str]]] = []  # (seconds in, RSS, wirehouse frames a thread)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "PeakWatch":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        started, highest = time.perf_counter(), 0
        while not self._stop.wait(self.INTERVAL):
            rss = _own_rss()
            if rss >= highest + self.STEP:
                highest = rss
                self.highs.append((time.perf_counter() - started, rss, _running_wirehouse_code()))


def _running_wirehouse_code() -> list[str]:
    """For each thread now in wirehouse's code, its innermost wirehouse frames (three at most, innermost first)."""
    running = []
    for frame in sys._current_frames().values():
        names = []
        while frame is not None and len(names) < 3:
            module = frame.f_globals.get("__name__", "")
            if module.startswith("wirehouse.") and frame.f_code.co_name != "_watch":
                names.append(f"{module.removeprefix('wirehouse.')}.{frame.f_code.co_name}")
            frame = frame.f_back
        if names:
            running.append(" < ".join(names))
    return sorted(set(running))


def slice_logger(started: float, readings: list[int], peaks: list[int]):
    """An on_progress that prints, as each slice commits, the seconds so far and the process's RSS.

    To stderr, one line a slice: memory that grows with the pages shows here, slice by slice.
    Each slice's RSS is also appended to `readings`, and the process's peak so far to `peaks`.
    """
    import resource

    slices = [0]

    def on_progress(stage: str, done, total) -> None:
        if stage == "load" and done is None:
            slices[0] += 1
            rss = _own_rss()
            readings.append(rss)
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            print(f"    slice {slices[0]:>3} committed at {time.perf_counter() - started:7.1f} s; flow process RSS {rss / 2**20:5.0f} MiB "
                  f"(peak {peaks[-1] / 2**20:5.0f}); {memory_parts()}", file=sys.stderr, flush=True)

    return on_progress


def memory_parts() -> str:
    """Who holds the flow process's memory now, in MiB: glibc's malloc (in use, free but held),
    Python's allocated blocks (millions), Arrow's pool, the DuckDB databases the process keeps,
    the entries of its word caches (thousands; each cache is bounded) and its resident memory
    split into anonymous and file-backed."""
    import pyarrow

    from wirehouse.warehouse import db

    parts = []
    if heap := c_heap():
        parts.append(f"glibc in use {heap[0] / 2**20:.0f}, free held {heap[1] / 2**20:.0f}")
    parts.append(f"python blocks {sys.getallocatedblocks() / 1e6:.2f} M")
    parts.append(f"arrow {pyarrow.total_allocated_bytes() / 2**20:.0f} ({pyarrow.default_memory_pool().backend_name})")
    duck = 0
    for database in list(db._DATABASES.values()):
        try:
            duck += database.cursor().execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()[0]
        except Exception:  # a database closed meanwhile
            pass
    parts.append(f"duckdb {duck / 2**20:.0f}")
    parts.append(f"word caches {sum(cached.cache_info().currsize for cached in _word_caches()) / 1e3:.0f} k entries")
    file_backed, anonymous = _resident_by_kind()
    parts.append(f"resident anonymous {anonymous / 2**20:.0f}, file-backed {file_backed / 2**20:.0f}")
    return ", ".join(parts)


def _word_caches() -> list:
    """The bounded caches the flow process fills as it meets new names and words (entity keys, spellings, keyword forms)."""
    from wirehouse.tasks import entities, stories

    return [entities.match_key, stories.normalize_entity, stories._keyword_form, stories._log1p]


def _resident_by_kind() -> tuple[int, int]:
    """This process's resident bytes in file-backed mappings (libraries, mapped files) and in anonymous ones."""
    import psutil

    maps = psutil.Process().memory_maps(grouped=True)
    file_backed = sum(m.rss for m in maps if m.path.startswith("/"))
    return file_backed, sum(m.rss for m in maps) - file_backed


def _own_rss() -> int:
    """This process's resident bytes now (Linux: /proc/self/statm)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def by_tenth(readings: list[int]) -> list[float]:
    """The mean of each tenth of `readings` (bytes), in MiB; fewer parts when there are fewer readings."""
    parts = min(10, len(readings))
    bounds = [round(i * len(readings) / parts) for i in range(parts + 1)] if parts else []
    return [sum(readings[a:b]) / (b - a) / 2**20 for a, b in zip(bounds, bounds[1:])]


def tenth_ends(readings: list[int]) -> list[int]:
    """The reading at the end of each tenth of `readings` (fewer when there are fewer readings)."""
    parts = min(10, len(readings))
    return [readings[round((i + 1) * len(readings) / parts) - 1] for i in range(parts)]


def report_flow(pages: int, flow: dict) -> float:
    """Print one whole-flow run; its pages per second."""
    rate = pages / flow["wall"]
    print(f"whole flow on {pages} pages: {flow['fetched']} fetched, {flow['failed']} failed, {flow['articles']} articles, "
          f"{flow['exact']} exact + {flow['near']} near duplicates, {flow['mentions']} entity mentions, "
          f"committed as {flow['runs']} runs")
    print("  stage seconds (stages overlap; each is the time it ran past the one before): "
          + "  ".join(f"{k} {v:.1f}" for k, v in flow["stage_seconds"].items()))
    print(f"  {flow['wall']:.1f} s, {rate:.1f} pages/s, {flow['wall'] / pages * 1000:.1f} ms per page")
    print(f"  peak RSS of the flow process and its children: {flow['peak_rss'] / 2**20:.0f} MiB "
          f"(the flow process alone: {flow['own_peak_rss'] / 2**20:.0f} MiB)")
    if tenths := by_tenth(flow["slice_rss"][1:]):
        print("  the flow process's RSS after each slice but the first, mean by tenth of the run: "
              + " ".join(f"{mib:.0f}" for mib in tenths) + " MiB")
    if tenths := tenth_ends(flow.get("slice_peaks", [])):
        print("  the flow process's peak so far at the end of each tenth of the run's slices: "
              + " ".join(f"{peak / 2**20:.0f}" for peak in tenths) + " MiB")
    if flow.get("highs"):
        print("  the flow process's last new highs (seconds into the run, RSS) and the wirehouse code its threads ran then:")
        for seconds, rss, running in flow["highs"]:
            print(f"    {seconds:7.1f} s {rss / 2**20:5.0f} MiB: " + ("; ".join(running) or "(none)"))
    if flow["cpu"]:
        print("  CPU seconds of the timed run: " + ", ".join(f"{kind} {seconds:.0f}" for kind, seconds in flow["cpu"].items())
              + f"; {CORES} cores x {flow['wall']:.0f} s = {CORES * flow['wall']:.0f}")
    if flow["idle"]:
        print("  idle core-seconds in each tenth of the run: " + " ".join(f"{seconds:.0f}" for seconds in flow["idle"]))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[1000], help="corpus sizes, each run through the whole flow")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each response waits")
    parser.add_argument("--direct-pages", type=int, default=2000, help="pages the stages alone run on (at most the smallest --pages)")
    parser.add_argument("--stand-in-ner", action="store_true", help="memory only: a rule-based stand-in tags names, no stages alone, no ratio")
    parser.add_argument("--no-repeat", action="store_true", help="with several sizes, do not run the smallest again after the largest")
    parser.add_argument("--flow-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flow_child:
        flow_child(args.flow_child)
        return
    sizes = sorted(args.pages)
    direct = min(args.direct_pages, sizes[0])
    print(f"scale bench: {', '.join(map(str, sizes))} pages on {Corpus(sizes[0]).hosts} hosts, latency {args.latency * 1000:.0f} ms, {CORES} cores")
    if args.stand_in_ner:
        use_stand_in_ner()
    else:
        rates, texts = direct_stages(Corpus(sizes[0]), direct)
        words = sum(len(text.split()) for text in texts) / max(len(texts), 1)
        print(f"stages alone, on {direct} pages ({words:.0f} words of text each):")
        for stage, rate in rates.items():
            print(f"  {stage:<22} {rate:>8.1f} pages/s")
    order = sizes + ([sizes[0]] if len(sizes) > 1 and not args.no_repeat else [])
    runs, flow_rates, spacy_after = [], [], []
    spacy_slowest = not args.stand_in_ner and min(rates, key=rates.get) == SPACY
    for pages in order:
        with serve_corpus(Corpus(pages), args.latency, workers=CORES) as served:
            flow = whole_flow(served, pages)
        runs.append((pages, flow))
        flow_rates.append((pages, report_flow(pages, flow)))
        if spacy_slowest:
            spacy_after.append(spacy_rate(texts))
            print(f"{SPACY} alone again, after the {pages}-page flow: {spacy_after[-1]:.1f} pages/s")
    if not args.stand_in_ner:
        report_ratio(rates, spacy_after, flow_rates)
    if len(sizes) > 1:
        report_growth(sizes, runs)


def use_stand_in_ner() -> None:
    """Make the flows (their child process and its workers) load bench/stand_in_ner.py as the model."""
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    os.environ["WIREHOUSE_ENRICH__MODEL"] = "stand_in_ner"
    print("names tagged by a rule-based stand-in for the spaCy model (bench/stand_in_ner.py): memory and time "
          "per page across sizes only; the ratio to the slowest stage is measured with the real model")


def report_ratio(rates: dict[str, float], spacy_after: list[float], flow_rates: list[tuple[int, float]]) -> None:
    """Each flow's pages per second as a ratio to the slowest stage alone.

    One reading of spaCy alone moves by up to a fifth from one run to the next on a shared
    machine, and the machine's speed drifts over a long bench (session 18: a first 10,000-page
    flow's workers took 80 ms of CPU a page, the same flow 90 minutes later 70): spaCy is read
    again after each flow, and each flow's ratio is taken to the mean of the readings just
    before and just after it.
    """
    slowest = min(rates, key=rates.get)
    readings = [rates[slowest], *spacy_after]
    for number, (pages, rate) in enumerate(flow_rates):
        baseline, around = rates[slowest], ""
        if spacy_after:  # read only when spaCy is the slowest stage
            before, after = readings[number], readings[number + 1]
            baseline, around = (before + after) / 2, f", mean of {before:.1f} before and {after:.1f} after it"
        print(f"ratio whole flow / slowest stage alone ({slowest}, {baseline:.1f} pages/s{around}) at {pages} pages: "
              f"{rate / baseline:.3f} (target >= 0.8 at 10k pages)")


def report_growth(sizes: list[int], runs: list[tuple[int, dict]]) -> None:
    """Time per page and memory of the largest run against the smallest (each run of it, and their mean)."""
    smalls = [flow for pages, flow in runs if pages == sizes[0]]
    small, large = smalls[0], next(flow for pages, flow in runs if pages == sizes[-1])
    ms = [flow["wall"] / sizes[0] * 1000 for flow in smalls]
    large_ms = large["wall"] / sizes[-1] * 1000
    # Three decimals: a run at the line (1.2008) must not print as meeting it ("1.20").
    if len(ms) > 1:
        print(f"time per page at {sizes[-1]} pages ({large_ms:.2f} ms) / at {sizes[0]}: before it ({ms[0]:.2f} ms) "
              f"{large_ms / ms[0]:.3f}, after it ({ms[1]:.2f} ms) {large_ms / ms[1]:.3f}")
    mean = sum(ms) / len(ms)
    print(f"time per page at {sizes[-1]} / at {sizes[0]} pages{' (their mean)' if len(ms) > 1 else ''}: "
          f"{large_ms / mean:.3f} (target <= 1.2); "
          f"peak RSS {small['peak_rss'] / 2**20:.0f} -> {large['peak_rss'] / 2**20:.0f} MiB, "
          f"flow process {small['own_peak_rss'] / 2**20:.0f} -> {large['own_peak_rss'] / 2**20:.0f} MiB")
    # Between slices, what the flow process holds for the run (its windows, caches, the allocators' heaps)
    # without the slice in flight: the same at the end of the large run as over the small one if bounded.
    if small["slice_rss"][1:] and large["slice_rss"][1:]:
        settled, last = small["slice_rss"][1:], by_tenth(large["slice_rss"][1:])[-1]
        mean = sum(settled) / len(settled) / 2**20
        print(f"flow process RSS between slices: {mean:.0f} MiB on average at {sizes[0]} pages (slices 2-), "
              f"{last:.0f} over the last tenth of {sizes[-1]} ({last - mean:+.0f} MiB)")


if __name__ == "__main__":
    main()
