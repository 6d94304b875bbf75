-- raw_pages: the HTML of every distinct page version fetched, so extraction and enrichment can
-- rerun without refetching.
create or replace view raw_pages as
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/raw_pages/*.parquet', union_by_name = true)
),
final as (
    select * exclude (_loaded_at), _run_id as run_id
    from parts
    where _run_id in (select run_id from committed)
)
select * from final;
