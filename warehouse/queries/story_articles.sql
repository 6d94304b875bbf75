-- What are the articles of a story, and what do they say?
-- Each with its outlet, URL, tone, keyphrases and the entities it names most.
-- $story_id: the story (articles.story_id; the stories view lists them)
-- example: wirehouse sql --file story_articles --param story_id=d228b6ed22eeb726
with story_articles as (
    select article_id, source, title, canonical_url, coalesce(date_published, fetched_at) as seen_at, duplicate_of
    from articles
    where coalesce(story_id, article_id) = $story_id
),
entity_counts as (
    select article_entities.article_id, article_entities.name, count(*) as mentions
    from article_entities
    join story_articles using (article_id)
    where article_entities.name is not null
    group by all
),
top_entities as (
    select article_id, list(name order by mentions desc, name)[1:5] as top_entities
    from entity_counts
    group by article_id
),
final as (
    select
        story_articles.seen_at,
        story_articles.source,
        story_articles.title,
        story_articles.canonical_url,
        story_articles.duplicate_of is not null as is_copy,
        article_enrichments.tone,
        article_enrichments.keywords[1:5] as keywords,
        coalesce(top_entities.top_entities, []) as top_entities,
        story_articles.article_id
    from story_articles
    left join article_enrichments using (article_id)
    left join top_entities using (article_id)
)
select * from final
order by seen_at, source, article_id;
