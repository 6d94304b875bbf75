-- Which articles mention an entity, under any of its names?
-- ("every article mentioning the Ministry of External Affairs this week": MEA, "the external
-- affairs ministry" and "Ministry of External Affairs" are one entity when the texts show it.)
-- $entity: an entity id, name or alias, any case
-- $since (default 1970-01-01): the first day counted
-- example: wirehouse sql --file entity_articles --param entity=MEA --param since=2025-10-27
with chosen as (
    select entity_id, name
    from entities
    where entity_id = $entity
        or lower(name) = lower($entity)
        or list_contains(list_transform(aliases, alias -> lower(alias)), lower($entity))
),
mentions as (
    select
        article_entities.article_id,
        chosen.name as entity,
        count(*) as mentions,
        list(distinct trim(regexp_replace(article_entities.text, '\s+', ' ', 'g'))) as written_as
    from article_entities
    join chosen using (entity_id)
    group by all
),
final as (
    select
        cast(coalesce(articles.date_published, articles.fetched_at) as date) as day,
        articles.source,
        articles.title,
        mentions.entity,
        mentions.mentions,
        list_sort(mentions.written_as) as written_as,
        articles.duplicate_of is not null as is_copy,
        articles.article_id
    from mentions
    join articles using (article_id)
    where coalesce(articles.date_published, articles.fetched_at) >= cast($since as date)
)
select * from final
order by day, source, title;
