-- articles: one row per article (one canonical URL), its newest landed version.
-- duplicate_of names the group's canonical article when this one is an exact or near copy or a
-- teaser; it comes from the article's newest duplicate_links row when that is newer than the
-- version (the group's canonical moved after the article landed).
create or replace view articles as
with committed as (
    select run_id from runs
),
parts as (
    select * from read_parquet('{parquet}/articles/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed)
),
versions as (
    select * exclude (_run_id, _loaded_at), _run_id as loaded_by_run, _loaded_at as loaded_at
    from parts
    qualify row_number() over (partition by article_id order by _loaded_at desc) = 1
),
links as (
    select article_id, duplicate_of, duplicate_kind, similarity, linked_at
    from duplicate_links
    qualify row_number() over (partition by article_id order by linked_at desc) = 1
),
final as (
    select
        versions.* replace (
            if(links.linked_at > versions.loaded_at, links.duplicate_of, versions.duplicate_of) as duplicate_of,
            if(links.linked_at > versions.loaded_at, links.duplicate_kind, versions.duplicate_kind) as duplicate_kind,
            if(links.linked_at > versions.loaded_at, links.similarity, versions.similarity) as similarity
        )
    from versions
    left join links using (article_id)
)
select * from final;
