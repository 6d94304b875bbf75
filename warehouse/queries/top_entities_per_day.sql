-- Which entities were in the most reports each day?
-- A report is an article or a group of copies of it (a wire story syndicated five times counts once).
-- $since (default 1970-01-01): the first day counted
-- $until (default 9999-12-31): the last day counted
-- $label (default ): only entities of this label (PERSON, ORG, GPE, ...); empty for all
-- $top (default 10): entities kept per day
-- example: wirehouse sql --file top_entities_per_day --param since=2026-11-14 --param label=ORG --param top=5
with articles_by_day as (
    select
        article_id,
        coalesce(duplicate_of, article_id) as report_id,
        cast(coalesce(date_published, fetched_at) as date) as day
    from articles
    where cast(coalesce(date_published, fetched_at) as date) between cast($since as date) and cast($until as date)
),
mentions as (
    select distinct articles_by_day.day, articles_by_day.report_id, articles_by_day.article_id, article_entities.entity_id
    from article_entities
    join articles_by_day using (article_id)
    where article_entities.entity_id is not null
),
per_day as (
    select
        day,
        entity_id,
        count(distinct report_id) as reports,
        count(distinct article_id) as articles
    from mentions
    group by day, entity_id
),
final as (
    select per_day.day, entities.name, entities.label, per_day.reports, per_day.articles, entities.entity_id
    from per_day
    join entities using (entity_id)
    where $label = '' or entities.label = $label
    qualify row_number() over (partition by per_day.day order by per_day.reports desc, per_day.articles desc, entities.name) <= cast($top as integer)
)
select * from final
order by day, reports desc, articles desc, name;
