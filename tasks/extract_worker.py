"""Preloaded by the extraction pool's forkserver; nothing else imports it.

Importing it loads what every extraction worker needs: `extract_page` with trafilatura, and
py3langid's model (about a second to decompress). The forkserver imports it once and forks each
worker from that state, so starting or recycling a worker (`max_tasks_per_child`) costs
milliseconds instead of seconds. This is the one module whose import is meant to be expensive.
"""

import py3langid

from wirehouse.tasks import extract_page  # noqa: F401  (imported to be inherited by the workers)

py3langid.classify("Load the language model once, before the extraction workers fork.")
