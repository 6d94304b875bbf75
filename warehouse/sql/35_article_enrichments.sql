-- article_enrichments: one row per article, its newest enrichment (language, keyphrases, tone,
-- and the model name and version of each). Ingest enriches new and changed articles;
-- `wirehouse enrich --since DATE` writes newer rows for old ones, which then win here.
-- article_enrichments_among(ids): the rows of the article ids in the list `ids` only (all with
-- every := true), ranking only those articles' enrichments.
create or replace macro article_enrichments_among(ids, every := false) as table
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/article_enrichments/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed) and (every or article_id in (select unnest(ids)))
),
final as (
    select * exclude (_run_id, _loaded_at), _run_id as enriched_by_run, _loaded_at as enriched_at
    from parts
    qualify row_number() over (partition by article_id order by _loaded_at desc) = 1
)
select * from final;

create or replace view article_enrichments as
select * from article_enrichments_among([], every := true);
