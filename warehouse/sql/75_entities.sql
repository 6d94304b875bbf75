-- entities: one row per canonical entity, with every spelling it was seen under and how widely.
-- name and label as in `entity_labels`; first_seen/last_seen are the earliest and latest dates of
-- the articles mentioning it.
create or replace view entities as
with definitions as (
    select * from entity_labels
),
mentions as (
    select
        article_entities.entity_id,
        article_entities.article_id,
        trim(regexp_replace(article_entities.text, '\s+', ' ', 'g')) as surface,
        coalesce(articles.date_published, articles.fetched_at) as seen_at
    from article_entities
    join articles using (article_id)
    where article_entities.entity_id is not null
),
per_entity as (
    select
        entity_id,
        list(distinct surface) as surfaces,
        count(distinct article_id) as n_articles,
        count(*) as n_mentions,
        min(seen_at) as first_seen,
        max(seen_at) as last_seen
    from mentions
    group by entity_id
),
alias_lists as (
    select entity_id, list(distinct alias) as aliases
    from entity_aliases
    group by entity_id
),
final as (
    select
        definitions.entity_id,
        definitions.name,
        definitions.label,
        list_sort(list_distinct(list_concat(coalesce(alias_lists.aliases, []), coalesce(per_entity.surfaces, [])))) as aliases,
        coalesce(per_entity.n_articles, 0) as n_articles,
        coalesce(per_entity.n_mentions, 0) as n_mentions,
        per_entity.first_seen,
        per_entity.last_seen,
        definitions.key,
        definitions.created_at
    from definitions
    left join per_entity using (entity_id)
    left join alias_lists using (entity_id)
)
select * from final;
