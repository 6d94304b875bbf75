"""Preloaded by the extraction pool's forkserver; nothing else imports it.

Importing it loads what every extraction worker needs: `extract_page` with trafilatura,
py3langid's model (about a second to decompress), and dateparser's regexes for every locale
(htmldate hands it the dates it cannot read itself; its first call compiles them: 2-5 s).
The forkserver imports it once and forks each worker from that state, so starting or recycling
a worker (`max_tasks_per_child`) costs milliseconds instead of seconds. This is the one module whose import is meant to be expensive.
"""

import py3langid
from htmldate.extractors import external_date_parser

from wirehouse.tasks import extract_page  # noqa: F401  (imported to be inherited by the workers)

py3langid.classify("Load the language model once, before the extraction workers fork.")
external_date_parser("Compile the date parser's locales once, before the workers fork: 12 qqq", "%Y-%m-%d")
