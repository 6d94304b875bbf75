-- runs: one row per ingest run. A run's row is written last, so it is also the commit marker:
-- every other view keeps only rows whose _run_id has a row here.
create or replace view runs as
with parts as (
    select * from read_parquet('{parquet}/runs/*.parquet', union_by_name = true)
),
final as (
    select * exclude (_run_id, _loaded_at)
    from parts
    qualify row_number() over (partition by run_id order by _loaded_at desc) = 1
)
select * from final;
