"""A rule-based stand-in for the spaCy model, for memory runs of `bench_scale.py --stand-in-ner`.

The flow's memory does not depend on which model tags the names, but its wall time mostly does:
spaCy's small English model tags about 5,000 tokens a second a core, so 100,000 pages take over
80 minutes on two cores. This blank English pipeline with an entity ruler (runs of title-case
words, all-caps words) tags about as many names in a fraction of the time, so a memory run of
100,000 pages takes about half as long. Its throughput says nothing about the real model's: the
ratio to the slowest stage is only measured with the real one.

Loaded as the pipeline loads a model package: `WIREHOUSE_ENRICH__MODEL=stand_in_ner`, with this
folder on PYTHONPATH (bench_scale sets both).
"""

from __future__ import annotations

import spacy

PATTERNS = [
    {"label": "PERSON", "pattern": [{"IS_TITLE": True}, {"IS_TITLE": True, "OP": "+"}]},
    {"label": "ORG", "pattern": [{"IS_UPPER": True, "LENGTH": {">=": 2}}]},
    {"label": "GPE", "pattern": [{"IS_TITLE": True}]},
]


def load(exclude=()):
    """A blank English pipeline whose only component is an entity ruler over PATTERNS."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.meta.update(name="stand_in_ner", version="0.0.0")
    return nlp
