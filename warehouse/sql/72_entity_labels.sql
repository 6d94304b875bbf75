-- entity_labels: one row per canonical entity, its name and its label now. The label is the one
-- most of its current mentions carry (the stored first label when it has none); a tie goes to the
-- label earlier in tasks/entities.py LABEL_PREFERENCE, then the alphabetically first, so the same
-- warehouse always gives the same answer.
-- entity_labels_among(ids): the rows of the entity ids in the list `ids` only (all with
-- every := true): the pipeline's lookup of a batch's entities. It sums their label votes from
-- `entity_label_votes` (a run's mentions per entity and label, less those it replaced), rows that
-- follow entities x runs, where counting the current mentions themselves read every mention a
-- known entity ever had. The view counts the mentions (`article_entities`); both agree.
create or replace macro entity_labels_among(ids, every := false) as table
with committed as (
    select run_id from runs
),
definitions as (
    select entity_id, name, label, key, _loaded_at as created_at
    from read_parquet('{parquet}/entities/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed) and (every or entity_id in (select unnest(ids)))
    qualify row_number() over (partition by entity_id order by _loaded_at) = 1
),
counted as (
    select entity_id, label, count(*) as mentions
    from article_entities
    where every and entity_id is not null
    group by entity_id, label
),
summed as (
    select entity_id, label, sum(mentions) as mentions
    from read_parquet('{parquet}/entity_label_votes/*.parquet', union_by_name = true)
    where not every and _run_id in (select run_id from committed) and entity_id in (select unnest(ids))
    group by entity_id, label
),
votes as (
    select * from counted
    union all
    select * from summed where mentions > 0
),
voted as (
    select
        entity_id,
        first(
            label
            order by
                mentions desc,
                coalesce(list_position(
                    ['PERSON', 'ORG', 'GPE', 'LOC', 'FAC', 'NORP', 'EVENT', 'LAW', 'WORK_OF_ART', 'PRODUCT'], label
                ), 99),
                label
        ) as label
    from votes
    group by entity_id
),
final as (
    select
        definitions.entity_id,
        definitions.name,
        coalesce(voted.label, definitions.label) as label,
        definitions.key,
        definitions.created_at
    from definitions
    left join voted using (entity_id)
)
select * from final;

create or replace view entity_labels as
select * from entity_labels_among([], every := true);
