"""Fetch throughput against the politeness bound, on 20 local hosts that answer in 200 ms.

    .venv/bin/python bench/bench_fetch.py [--hosts 20] [--pages 15] [--delay 0.5] [--latency 0.2]

The hosts are 20 servers, one per loopback address 127.0.0.1 ... 127.0.0.20 (all loopback on
Linux), so they differ by host name as real outlets do; where only 127.0.0.1 exists (macOS) they
fall back to 20 ports on it, which the fetcher also keys as 20 hosts (host:port, as robots.txt
does). robots.txt is off: this measures the scheduler, not one extra request per host.

The bound. The per-host delay D counts from the start of one request to the start of the next,
and a host never has two requests in flight, so a host is asked once every max(D, L) seconds,
L being the response time. N pages from a host take at best (N - 1) * max(D, L) + L, and with
`max_connections` W requests in flight the whole run can do no better than W / L pages/s:

    bound = min(H * N / ((N - 1) * max(D, L) + L),  W / L)    (-> H / max(D, L) for large N)

L is measured in the same run (mean time in the HTTP exchange), not assumed.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import mean

from wirehouse.config import load_settings
from wirehouse.tasks.fetch import fetch_targets
from wirehouse.tasks.records import Target

BODY = b"<!doctype html><html><head><title>bench</title></head><body><p>news</p></body></html>"


def start_servers(count: int, latency: float) -> tuple[list[ThreadingHTTPServer], dict[str, list[float]]]:
    """`count` servers answering every request after `latency` s, and their request start times."""
    starts: dict[str, list[float]] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host, port = self.server.server_address[:2]
            with lock:
                starts.setdefault(f"{host}:{port}", []).append(time.monotonic())
            time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args) -> None:
            pass

    def bind(address: str) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((address, 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    try:
        servers = [bind(f"127.0.0.{number}") for number in range(1, count + 1)]
    except OSError:  # no 127.0.0.2 here: distinct ports on 127.0.0.1 instead
        servers = [bind("127.0.0.1") for _ in range(count)]
    return servers, starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=15, help="pages per host")
    parser.add_argument("--delay", type=float, default=0.5, help="per-host delay D, seconds")
    parser.add_argument("--latency", type=float, default=0.2, help="server response time, seconds")
    args = parser.parse_args()

    settings = load_settings().fetch.model_copy(
        update={"per_host_delay": args.delay, "respect_robots": False, "allow_private": True, "retries": 0}
    )
    servers, starts = start_servers(args.hosts, args.latency)
    urls = [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers]
    # Host by host, as a feed-ordered batch arrives; fetch_targets has to spread them itself.
    targets = [Target(url=f"{url}/article/{n}", source="bench") for url in urls for n in range(args.pages)]

    started = time.monotonic()
    pages = fetch_targets(targets, settings)
    seconds = time.monotonic() - started
    for server in servers:
        server.shutdown()

    ok = sum(page.outcome == "ok" for page in pages)
    latency = mean(page.elapsed_ms for page in pages) / 1000
    hosts, per_host, delay, workers = args.hosts, args.pages, args.delay, settings.max_connections
    bound = min(hosts * per_host / ((per_host - 1) * max(delay, latency) + latency), workers / latency)
    throughput = ok / seconds
    gaps = [later - earlier for times in starts.values() for earlier, later in zip(times, times[1:])]

    print(f"hosts {hosts} ({servers[0].server_address[0]}..{servers[-1].server_address[0]}), "
          f"{per_host} pages each, per-host delay {delay:g} s, max_connections {workers}")
    print(f"pages ok          {ok}/{len(pages)} in {seconds:.2f} s")
    print(f"response time L   {latency * 1000:.0f} ms (mean, measured)")
    print(f"throughput        {throughput:.1f} pages/s")
    print(f"politeness bound  {bound:.1f} pages/s (asymptotic H / max(D, L) = {hosts / max(delay, latency):.1f})")
    print(f"ratio             {throughput / bound:.2f} (target >= 0.80)")
    # D is kept at the client, from the start of each request; a server sees each request after
    # its connection is set up, so the gaps it sees may differ from D by that jitter (a few ms).
    print(f"min gap between two requests to one host, seen by the server: {min(gaps):.3f} s (D = {delay:g} s)")


if __name__ == "__main__":
    main()
