-- entities: one row per canonical entity, with every spelling it was seen under and how widely.
-- label is the most common label of its current mentions (the stored first label when it has
-- none); first_seen/last_seen are the earliest and latest dates of the articles mentioning it.
create or replace view entities as
with committed as (
    select run_id from runs
),
definitions as (
    select entity_id, name, label, key, _loaded_at as created_at
    from read_parquet('{parquet}/entities/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed)
    qualify row_number() over (partition by entity_id order by _loaded_at) = 1
),
mentions as (
    select
        article_entities.entity_id,
        article_entities.article_id,
        article_entities.label,
        trim(regexp_replace(article_entities.text, '\s+', ' ', 'g')) as surface,
        coalesce(articles.date_published, articles.fetched_at) as seen_at
    from article_entities
    join articles using (article_id)
    where article_entities.entity_id is not null
),
per_entity as (
    select
        entity_id,
        mode(label) as label,
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
        coalesce(per_entity.label, definitions.label) as label,
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
