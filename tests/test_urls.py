from wirehouse.tasks.urls import article_id, canonical_url, content_hash, url_article_id
from wirehouse.warehouse import db


def test_tracking_parameters_fragment_and_host_spelling_are_dropped():
    assert canonical_url("http://WWW.Example.com:80/world/story/?utm_source=rss&utm_medium=feed#comments") == (
        "https://example.com/world/story"
    )
    assert canonical_url("https://example.com/world/story?fbclid=abc&ref=homepage") == "https://example.com/world/story"


def test_meaningful_query_parameters_stay_sorted():
    assert canonical_url("https://example.com/read?page=2&id=7&utm_campaign=x") == "https://example.com/read?id=7&page=2"


def test_amp_variants_share_the_article_id():
    plain = url_article_id("https://example.com/news/quake-hits-coast")
    assert url_article_id("https://amp.example.com/news/quake-hits-coast/amp/") == plain
    assert url_article_id("https://example.com/news/quake-hits-coast/amp") == plain
    assert url_article_id("https://example.com/news/quake-hits-coast?amp=1") == plain
    assert url_article_id("https://example.com/news/quake-hits-coast-2") != plain


def test_non_default_port_is_part_of_the_identity():
    assert canonical_url("http://127.0.0.1:8080/a") == "https://127.0.0.1:8080/a"


def test_content_hash_ignores_case_and_spacing_only():
    assert content_hash("Rain  falls\nin Spain.") == content_hash("rain falls in spain.")
    assert content_hash("Rain falls in Spain.") != content_hash("Rain falls in France.")


def test_sql_macro_is_the_python_article_id(tmp_path):
    db.init_warehouse(tmp_path)
    canonical = canonical_url("https://news.example/a/b?utm_source=x")
    with db.connect_catalog(tmp_path) as con:
        assert con.execute("select article_id(?)", [canonical]).fetchone()[0] == article_id(canonical)
