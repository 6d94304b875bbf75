-- stories: one row per story (one news event, from any outlet, in any words), grown by every
-- run that lands an article about it. story_id is the story's first article's id; articles
-- landed before stories existed count as stories of their own. The representative headline is
-- the first article's title; top_entities are the names mentioned most across the story.
create or replace view stories as
with articles_in_stories as (
    select
        coalesce(story_id, article_id) as story_id,
        article_id,
        coalesce(site_name, regexp_extract(canonical_url, '^[a-z]+://([^/]+)', 1)) as outlet,
        title,
        coalesce(date_published, fetched_at) as seen_at
    from articles
),
entity_counts as (
    select articles_in_stories.story_id, article_entities.text as entity, count(*) as mentions
    from article_entities
    join articles_in_stories using (article_id)
    group by all
),
top_entities as (
    select story_id, list(entity order by mentions desc, entity)[1:5] as top_entities
    from entity_counts
    group by story_id
),
per_story as (
    select
        story_id,
        min(seen_at) as first_seen,
        max(seen_at) as last_seen,
        count(*) as n_articles,
        count(distinct outlet) as n_outlets,
        arg_min(title, (seen_at, article_id)) as headline
    from articles_in_stories
    group by story_id
),
final as (
    select per_story.*, coalesce(top_entities.top_entities, []) as top_entities
    from per_story
    left join top_entities using (story_id)
)
select * from final;
