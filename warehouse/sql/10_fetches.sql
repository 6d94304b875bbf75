-- fetches: one row per fetch attempt (pages and feeds), with its outcome from the taxonomy
-- (ok, not_modified, http_4xx, http_5xx, timeout, ..., not_article, extraction_empty).
create or replace view fetches as
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/fetches/*.parquet', union_by_name = true)
),
final as (
    select * exclude (_loaded_at), _run_id as run_id
    from parts
    where _run_id in (select run_id from committed)
)
select * from final;
