-- duplicate_links: landed copies re-pointed at a new canonical, one row per move. When a group's
-- canonical turns out to be a teaser (a short opening excerpt) of a later, longer article, that
-- article becomes the canonical and every landed member of the group is pointed at it here;
-- `articles` reads an article's newest link when it is newer than the article's own version.
create or replace view duplicate_links as
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/duplicate_links/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed)
),
final as (
    select * exclude (_run_id, _loaded_at), _run_id as linked_by_run, _loaded_at as linked_at
    from parts
)
select * from final;
