-- How did a story unfold across outlets?
-- Its articles in order, each with its outlet, how long after the first report it appeared, and
-- whether it was original reporting or a copy.
-- $story_id: the story (articles.story_id; the stories view lists them)
-- example: wirehouse sql --file story_timeline --param story_id=d228b6ed22eeb726
with story_articles as (
    select
        article_id,
        source,
        title,
        coalesce(date_published, fetched_at) as seen_at,
        duplicate_of,
        duplicate_kind
    from articles
    where coalesce(story_id, article_id) = $story_id
),
final as (
    select
        seen_at,
        source,
        title,
        seen_at - min(seen_at) over () as after_first,
        row_number() over (partition by source order by seen_at, article_id) = 1 as outlet_first,
        case when duplicate_of is null then 'original' else duplicate_kind || ' copy' end as kind,
        article_id
    from story_articles
)
select * from final
order by seen_at, source, article_id;
