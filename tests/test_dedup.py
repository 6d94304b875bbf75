from datetime import datetime, timedelta, timezone

from wirehouse.tasks.dedup import KnownArticle, assign_duplicates, fingerprint_articles, jaccard, shingles
from wirehouse.tasks.records import Article
from wirehouse.tasks.urls import content_hash

WIRE = (
    "Harbour workers in Portmere walked off the job on Tuesday after talks over night-shift pay broke down, "
    "leaving twelve container ships waiting at anchor outside the breakwater. The Portmere Dockers Union said "
    "its members would stay out until the port authority restored the overtime rate cut in September. "
    "Authority chair Miriam Castell told reporters the cut had saved the port four million a year and that "
    "the books could not carry it again. Shipping agents warned that fruit and medicine cargoes would spoil "
    "within days. The regional transport minister, Alan Brody, called both sides to a meeting on Thursday and "
    "said the government would not let the dispute close the port for a second week. Union organiser Kwame "
    "Otieno said the strike would be reviewed at a mass meeting on Friday morning at the union hall."
)
REWRITE = (
    "A pay dispute has shut Portmere's container terminal. Dockers refused to start the Tuesday night shift, "
    "saying an overtime cut imposed in September had taken a fifth of their wages. A dozen vessels now sit "
    "offshore. Miriam Castell, who chairs the port authority, defended the savings as necessary. Minister Alan "
    "Brody has summoned negotiators for Thursday, while importers fear for perishable goods."
)


def _article(article_id, text, hours=0):
    when = datetime(2026, 11, 18, 8, tzinfo=timezone.utc) + timedelta(hours=hours)
    return Article(
        article_id=article_id, url=f"https://news.example/{article_id}", canonical_url=f"https://news.example/{article_id}",
        source="test", title=article_id, text=text, fetched_at=when, date_published=when, content_hash=content_hash(text),
    )


def _edited(text):
    """A syndicated copy: dateline added, one word changed, last sentence trimmed."""
    body = text.replace("twelve", "12").rsplit(". ", 1)[0] + "."
    return "PORTMERE (Wire) - " + body


def test_syndicated_copy_is_a_near_duplicate_of_the_earliest(settings):
    original, copy, rewrite = _article("a", WIRE), _article("b", _edited(WIRE), hours=2), _article("c", REWRITE, hours=1)
    batch = [copy, rewrite, original]
    result = assign_duplicates(batch, fingerprint_articles(batch, settings.dedup), [], settings.dedup)
    assert (copy.duplicate_of, copy.duplicate_kind) == ("a", "near")
    assert copy.similarity >= settings.dedup.near_threshold
    assert original.duplicate_of is None
    assert rewrite.duplicate_of is None, "a rewrite of the same event is one story, not a copy"
    assert (result.exact, result.near) == (0, 1)


def test_exact_copy_under_another_url_is_flagged_exact(settings):
    original, copy = _article("a", WIRE), _article("b", WIRE.upper(), hours=3)
    batch = [original, copy]
    assign_duplicates(batch, fingerprint_articles(batch, settings.dedup), [], settings.dedup)
    assert (copy.duplicate_of, copy.duplicate_kind, copy.similarity) == ("a", "exact", 1.0)


def test_copy_arriving_later_joins_the_known_group(settings):
    # "a" landed in an earlier run as the canonical; "b" landed as its copy. A third copy
    # arriving now points at the group's canonical, not at the copy it matched.
    known = [KnownArticle("b", content_hash(_edited(WIRE)), _edited(WIRE), "a")]
    late = _article("z", _edited(WIRE).replace("Thursday", "Thursday afternoon"), hours=48)
    assign_duplicates([late], fingerprint_articles([late], settings.dedup), known, settings.dedup)
    assert (late.duplicate_of, late.duplicate_kind) == ("a", "near")


def test_shingles_fold_case_and_punctuation():
    assert shingles("The Port, closed!", 2) == shingles("the port closed", 2)
    assert jaccard(shingles(WIRE, 3), shingles(REWRITE, 3)) < 0.1
