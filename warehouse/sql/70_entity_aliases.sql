-- entity_aliases: alias key -> canonical entity. The key ignores case, word order and connecting
-- words (tasks/entities.py match_key: "affairs external ministry"); acronyms defined in any
-- article ("Ministry of External Affairs (MEA)") map too. The first mapping of a key wins, so an
-- entity id handed out never moves.
-- entity_aliases_among(keys): the rows of the alias keys in the list `keys` only (all with
-- every := true): the pipeline's lookup of a batch's keys ranks only those keys' rows.
create or replace macro entity_aliases_among(keys, every := false) as table
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/entity_aliases/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed) and (every or alias_key in (select unnest(keys)))
),
final as (
    select alias_key, alias, entity_id, kind, _loaded_at as created_at
    from parts
    qualify row_number() over (partition by alias_key order by _loaded_at, alias) = 1
)
select * from final;

create or replace view entity_aliases as
select * from entity_aliases_among([], every := true);
