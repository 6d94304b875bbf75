-- articles: one row per article (one canonical URL), its newest landed version.
-- duplicate_of names the group's canonical article when this one is an exact or near copy.
create or replace view articles as
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/articles/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed)
),
final as (
    select * exclude (_run_id, _loaded_at), _run_id as loaded_by_run, _loaded_at as loaded_at
    from parts
    qualify row_number() over (partition by article_id order by _loaded_at desc) = 1
)
select * from final;
