"""Entities: normalize raw NER mentions inside an article, then resolve them to canonical entities.

Inside an article (`normalize_mentions`): titles, a leading "the" and possessives are stripped
("Prime Minister Narendra Modi's" -> "Narendra Modi"); an acronym defined in the text ("the Line
of Actual Control (LAC)") stands for its expansion; a surname alone stands for the full name
the article gives ("Jaiswal" -> "Randhir Jaiswal"); each normalized name takes one label, voted
by its full-form mentions, PERSON winning when the article shows a person (a span tagged PERSON,
or one right after a role word like "spokesperson").

Across articles (`resolve_entities`): mentions are matched by a key that ignores case, word order
and connecting words ("external affairs ministry" ~ "Ministry of External Affairs"); an acronym
defined in any article of the batch, or in an earlier run, maps to its expansion. Matching stops
there: no fuzzy spelling, no cross-lingual names, a surname alone never crosses articles. An
entity's id is fixed when it is first seen (a hash of its label and key) and every later alias
points at it through `entity_aliases`, so ids stay stable across runs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.tasks.records import ArticleEnrichment, EntityMention, changed

# Leading words dropped from a PERSON span ("Prime Minister", "Mr.", "spokesperson").
TITLE_WORDS = frozenset(
    """
    prime minister ministers president vice mr mrs ms miss dr sir dame senator sen rep representative
    governor gov general gen judge justice king queen prince princess pope chancellor chairman
    chairwoman chairperson ceo spokesperson spokesman spokeswoman secretary chief deputy lt col capt
    mayor premier ambassador professor prof lord lady sheikh emir lieutenant colonel captain admiral
    """.split()
)
# Role words that, right before a span, say the span is a person ("spokesperson Randhir Jaiswal").
PERSON_CUES = TITLE_WORDS - frozenset({"chief", "deputy", "vice", "general", "prime", "lord", "lady"})
# Cue words spelled with a full stop ("Dr. Ada Lovelace"); any other full stop ends a sentence.
_ABBREVIATED = frozenset({"mr", "mrs", "ms", "dr", "sen", "rep", "gov", "gen", "lt", "col", "capt", "prof"})
# Words a match key ignores, and that may sit inside an acronym's expansion without a letter.
CONNECTORS = frozenset({"the", "of", "and", "for", "on", "in", "to", "de", "&", "a", "an"})
# Tie-break between labels: the small model's PRODUCT and WORK_OF_ART are its least reliable.
LABEL_PREFERENCE = ("PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "WORK_OF_ART", "PRODUCT")

_WORD = re.compile(r"[\w][\w'’.&-]*")
_ACRONYM_IN_PARENS = re.compile(r"\(\s*([A-Z][A-Za-z&]{1,9})\s*\)")
_EXPANSION_IN_PARENS = re.compile(r"\b([A-Z][A-Z&]{1,9})\s*\(([^()]{4,120})\)")
_POSSESSIVE = re.compile(r"(?:['’]s|(?<=s)['’])$")
_SPACES = re.compile(r"\s+")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)(\.?)[ \t]+$")


def clean_surface(text: str, label: str) -> str:
    """A mention's text without line breaks, a leading "the", a possessive or (for people) titles."""
    name = _SPACES.sub(" ", text).strip(" ,;:!?\"'“”‘’()[]")
    name = _POSSESSIVE.sub("", name).strip()
    words = name.split(" ")
    if len(words) > 1 and words[0].lower() == "the":
        words = words[1:]
    if label == "PERSON":
        while len(words) > 1 and words[0].lower().rstrip(".") in TITLE_WORDS:
            words = words[1:]
    return " ".join(words)


def is_acronym(name: str) -> bool:
    """'MEA', 'LAC', 'U.S.': a short single word of mostly capitals."""
    letters = name.replace(".", "").replace("&", "")
    return 2 <= len(letters) <= 8 and " " not in name and sum(c.isupper() for c in letters) >= max(2, len(letters) - 1)


@lru_cache(maxsize=65536)  # a run looks up the same names thousands of times
def match_key(name: str) -> str:
    """The key names are matched by: accents, case, punctuation, connecting words and word order ignored."""
    if is_acronym(name):
        return name.replace(".", "").lower()
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.findall(r"[a-z0-9]+", folded.replace("’", "'").replace("'s ", " ")) if w not in CONNECTORS]
    return " ".join(sorted(words)) or folded.strip()


def entity_id(label: str, key: str) -> str:
    """A new entity's id: 16 hex digits of SHA-256 over its first label and its key."""
    return hashlib.sha256(f"{label}\x1f{key}".encode("utf-8")).hexdigest()[:16]


def _initials_match(words: list[str], acronym: str) -> bool:
    letters = [c.lower() for c in acronym if c.isalpha()]
    content = [w for w in words if w.lower() not in CONNECTORS]
    return bool(content) and words[0].lower() not in CONNECTORS and [w[0].lower() for w in content] == letters


def find_acronyms(text: str) -> dict[str, str]:
    """Acronyms the text defines: "Line of Actual Control (LAC)" and "LAC (Line of Actual Control)".

    The expansion is the shortest run of words before the parenthesis whose initials, connecting
    words aside, spell the acronym (Schwartz and Hearst's rule, simplified).

    Returns:
        acronym -> expansion, the first definition winning.
    """
    found: dict[str, str] = {}
    for match in _ACRONYM_IN_PARENS.finditer(text):
        acronym = match.group(1)
        if not is_acronym(acronym) or acronym in found:
            continue
        lines = text[max(0, match.start() - 160) : match.start()].splitlines()
        before = _WORD.findall(lines[-1]) if lines else []
        letters = sum(c.isalpha() for c in acronym)
        for size in range(letters, min(len(before), letters + 4) + 1):
            if _initials_match(before[-size:], acronym):
                found[acronym] = " ".join(before[-size:])
                break
    for match in _EXPANSION_IN_PARENS.finditer(text):
        acronym, inside = match.group(1), _WORD.findall(match.group(2))
        if acronym not in found and is_acronym(acronym) and inside and _initials_match(inside, acronym):
            found[acronym] = " ".join(inside)
    return found


def _vote(labels: list[str]) -> str:
    counts = Counter(labels)
    return max(counts, key=lambda label: (counts[label], -_preference(label)))


def _preference(label: str) -> int:
    return LABEL_PREFERENCE.index(label) if label in LABEL_PREFERENCE else len(LABEL_PREFERENCE)


def _best_name(forms: list[str]) -> str:
    """The display name among a group's forms: spelled with capitals, frequent, then long."""
    counts = Counter(forms)
    return max(counts, key=lambda f: (not is_acronym(f), sum(w[:1].isupper() for w in f.split()), counts[f], len(f)))


def _person_cued(text: str, start: int) -> bool:
    """Whether a role word ("spokesperson", "Dr.") sits right before the span, in the same sentence."""
    match = _WORD_BEFORE.search(text[max(0, start - 40) : start])
    if not match:
        return False
    word = match.group(1).lower()
    return word in PERSON_CUES and (not match.group(2) or word in _ABBREVIATED)


@dataclass
class _Mention:
    raw: EntityMention
    form: str  # the cleaned surface
    person: bool  # the article shows this span is a person
    canonical: str = ""  # the in-article name it stands for
    full_form: bool = True  # not an acronym or surname standing for something longer


def normalize_mentions(text: str, mentions: list[EntityMention], acronyms: dict[str, str]) -> list[EntityMention]:
    """Give each mention of one article its normalized `name` and the article's label for it.

    Args:
        text: the article's text (the mentions' offsets point into it).
        mentions: the raw mentions, `label` as the model tagged them.
        acronyms: the acronyms the article defines (`find_acronyms`).

    Returns:
        The mentions, in order, with `raw_label` the model's label, `label` the article's vote and
        `name` the normalized name; mentions left empty by cleaning are dropped.
    """
    items = []
    for mention in mentions:
        form = clean_surface(mention.text, mention.label)
        if not form:
            continue
        cued = mention.label != "PERSON" and 2 <= len(form.split()) <= 4 and _person_cued(text, mention.start_char)
        if cued:
            form = clean_surface(mention.text, "PERSON")
        items.append(_Mention(mention, form, person=mention.label == "PERSON" or cued))
    people = [m for m in items if m.person and len(m.form.split()) > 1]
    for item in items:
        item.canonical = item.form
        if item.form in acronyms:
            item.canonical, item.full_form = clean_surface(acronyms[item.form], item.raw.label), False
        elif " " not in item.form and not is_acronym(item.form):
            full = _full_name(item, people)
            if full:
                item.canonical, item.full_form = full, False
    groups: dict[str, list[_Mention]] = defaultdict(list)
    for item in items:
        groups[match_key(item.canonical)].append(item)
    out = []
    resolved = {}
    for key, group in groups.items():
        full = [m for m in group if m.full_form] or group
        label = "PERSON" if any(m.person for m in full) else _vote([m.raw.label for m in full])
        resolved[key] = (label, _best_name([m.canonical for m in full]))
    for item in items:
        label, name = resolved[match_key(item.canonical)]
        out.append(changed(item.raw, raw_label=item.raw.label, label=label, name=name))
    return out


def _full_name(item: _Mention, people: list[_Mention]) -> str | None:
    """The full name of a person the article names whose last word is this lone word, nearest earlier first."""
    candidates = [p for p in people if p.form.split()[-1] == item.form]
    if not candidates:
        return None
    earlier = [p for p in candidates if p.raw.start_char < item.raw.start_char]
    return (earlier[-1] if earlier else candidates[0]).form


# -- across articles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownEntity:
    """An entity already in the warehouse, as an alias key points at it."""

    entity_id: str
    name: str
    label: str


@dataclass
class Resolution:
    """The batch's mentions with their entity ids, and the entities and aliases it adds."""

    mentions: list[EntityMention] = field(default_factory=list)
    entities: list[dict] = field(default_factory=list)  # new `entities` rows
    aliases: list[dict] = field(default_factory=list)  # new `entity_aliases` rows


def mention_keys(enrichments: list[ArticleEnrichment]) -> list[str]:
    """Every key the batch may look up in the alias table: names and acronyms."""
    keys = {match_key(m.name) for e in enrichments for m in e.mentions}
    keys |= {match_key(acronym) for e in enrichments for acronym in e.acronyms}
    return sorted(keys)


def resolve_entities(enrichments: list[ArticleEnrichment], known: dict[str, KnownEntity]) -> Resolution:
    """Point every mention of the batch at a canonical entity, creating the ones not known yet.

    Args:
        enrichments: the batch's articles, their mentions normalized inside each article.
        known: alias key -> entity, for the keys of the batch found in the warehouse.

    Returns:
        The mentions with `entity_id` and `name` (the entity's name), and the new `entities` and
        `entity_aliases` rows. An alias already known keeps its entity: the first mapping wins.
    """
    defined: dict[str, str] = {}  # acronym key -> its expansion's key, the first definition winning
    written: dict[str, str] = {}  # acronym key -> the acronym as first written
    for enrichment in enrichments:
        for acronym, expansion in enrichment.acronyms.items():
            defined.setdefault(match_key(acronym), match_key(clean_surface(expansion, "")))
            written.setdefault(match_key(acronym), acronym)

    def final_key(name: str) -> str:
        key = match_key(name)
        if key in known:
            return key
        return defined.get(key, key)

    groups: dict[str, list[EntityMention]] = defaultdict(list)
    for enrichment in enrichments:
        for mention in enrichment.mentions:
            groups[final_key(mention.name)].append(mention)
    result = Resolution()
    entities: dict[str, KnownEntity] = dict(known)
    for key in sorted(groups):
        if key in entities:
            continue
        group = groups[key]
        full = [m for m in group if match_key(m.name) == key] or group
        label = _vote([m.label for m in full])
        new = KnownEntity(entity_id(label, key), _best_name([m.name for m in full]), label)
        entities[key] = new
        result.entities.append({"entity_id": new.entity_id, "name": new.name, "label": new.label, "key": key})
        result.aliases.append({"alias_key": key, "alias": new.name, "entity_id": new.entity_id, "kind": "name"})
    for acronym_key, expansion_key in sorted(defined.items()):
        if acronym_key not in known and expansion_key in entities:
            target = entities[expansion_key]
            result.aliases.append(
                {"alias_key": acronym_key, "alias": written[acronym_key], "entity_id": target.entity_id, "kind": "acronym"}
            )
    for enrichment in enrichments:
        for mention in enrichment.mentions:
            key = final_key(mention.name)
            entity = entities[key]
            # Through an alias (an acronym, another article's spelling) the entity's label wins.
            label = entity.label if key != match_key(mention.name) else mention.label
            result.mentions.append(changed(mention, entity_id=entity.entity_id, name=entity.name, label=label))
    return result


@task(name="resolve-entities", cache_policy=NO_CACHE)
def resolve(enrichments: list[ArticleEnrichment], known: dict[str, KnownEntity]) -> Resolution:
    """Prefect task: canonical entities for one run's enriched articles."""
    return resolve_entities(enrichments, known)
