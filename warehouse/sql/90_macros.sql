-- article_id(canonical_url): the article key, the same function as wirehouse.tasks.urls.article_id
-- (16 hex digits of SHA-256 over the canonical URL; a test holds the two together).
create or replace macro article_id(canonical) as left(sha256(canonical), 16);
