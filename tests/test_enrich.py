from datetime import datetime, timezone

from wirehouse.tasks.enrich import extract_entities, model_label
from wirehouse.tasks.records import Article


def test_entities_are_tagged_with_offsets_into_the_text(settings):
    text = (
        "The Ministry of External Affairs said on Thursday that Randhir Jaiswal would travel to Beijing. "
        "Prime Minister Narendra Modi met Xi Jinping in Kazan last October."
    )
    article = Article("a1", "https://x.example/a", "https://x.example/a", "t", "t", text, datetime.now(timezone.utc))
    mentions = extract_entities([article], settings.enrich)
    found = {(m.text, m.label) for m in mentions}
    assert ("Narendra Modi", "PERSON") in found
    assert ("Xi Jinping", "PERSON") in found
    assert any(label == "GPE" and name in ("Beijing", "Kazan") for name, label in found)
    for mention in mentions:
        assert text[mention.start_char : mention.end_char] == mention.text
        assert mention.article_id == "a1"
    assert model_label(settings.enrich.model).startswith("en_core_web_sm")
