"""Preloaded by the extraction pool's forkserver; nothing else imports it.

Importing it loads what every extraction worker needs: `extract_page` with trafilatura,
py3langid's model (about half a second to decompress), and dateparser with its English patterns
(htmldate hands it the dates it cannot read itself). The forkserver imports it once and forks
each worker from that state, so starting or recycling a worker (`max_tasks_per_child`) costs
milliseconds instead of seconds. This is the one module whose import is meant to be expensive.

Not preloaded: dateparser's other locales. A string no English pattern reads makes dateparser
load them all (1.5 s); few pages send one (one of scrapinghub's 181), and every batch command
would wait for that load before its first page, so a worker that meets such a string loads them
itself, once in its life (2,500 pages by default).
"""

import py3langid
from htmldate.extractors import external_date_parser

from wirehouse.tasks import extract_page  # noqa: F401  (imported to be inherited by the workers)

py3langid.classify("Load the language model once, before the extraction workers fork.")
external_date_parser("12 March 2024", "%Y-%m-%d")  # English only: any other words would load every locale
