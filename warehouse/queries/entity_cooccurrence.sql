-- Which entities are mentioned together, in how many reports?
-- With $entity, the partners of that one entity (matched by id, name or any alias, any case);
-- without, the strongest pairs overall. Copies of one report count once.
-- $entity (default ): an entity id, name or alias (e.g. MEA); empty for every pair
-- $min_reports (default 2): reports a pair needs to be listed
-- $top (default 20): rows kept
-- example: wirehouse sql --file entity_cooccurrence --param entity="European Space Agency"
with chosen as (
    select entity_id
    from entities
    where $entity = ''
        or entity_id = $entity
        or lower(name) = lower($entity)
        or list_contains(list_transform(aliases, alias -> lower(alias)), lower($entity))
),
report_entities as (
    select distinct coalesce(articles.duplicate_of, articles.article_id) as report_id, article_entities.entity_id
    from article_entities
    join articles using (article_id)
    where article_entities.entity_id is not null
),
pairs as (
    select a.entity_id as entity_a, b.entity_id as entity_b, count(distinct a.report_id) as reports
    from report_entities as a
    join report_entities as b on a.report_id = b.report_id and a.entity_id <> b.entity_id
    where a.entity_id in (select entity_id from chosen)
        and ($entity <> '' or a.entity_id < b.entity_id)
    group by all
),
final as (
    select ea.name as entity, eb.name as with_entity, eb.label as with_label, pairs.reports
    from pairs
    join entities as ea on ea.entity_id = pairs.entity_a
    join entities as eb on eb.entity_id = pairs.entity_b
    where pairs.reports >= cast($min_reports as integer)
)
select * from final
order by reports desc, entity, with_entity
limit cast($top as integer);
