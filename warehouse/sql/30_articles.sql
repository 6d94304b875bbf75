-- article_versions: every landed version of every article (committed runs only).
create or replace view article_versions as
with committed as (
    select run_id from runs
),
final as (
    select * from read_parquet('{parquet}/articles/*.parquet', union_by_name = true)
    where _run_id in (select run_id from committed)
)
select * from final;

-- articles_among(ids): the `articles` rows of the article ids in the list `ids` (of all articles
-- with every := true). The pipeline reads a batch's articles through it: the newest-version pass
-- then runs over those ids' versions only, so its memory follows the batch, not the warehouse.
-- duplicate_of names the group's canonical article when this one is an exact or near copy or a
-- teaser; it comes from the article's newest duplicate_links row when that is newer than the
-- version (the group's canonical moved after the article landed).
create or replace macro articles_among(ids, every := false) as table
with versions as (
    select * exclude (_run_id, _loaded_at), _run_id as loaded_by_run, _loaded_at as loaded_at
    from article_versions
    where every or article_id in (select unnest(ids))
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

-- articles: one row per article (one canonical URL), its newest landed version.
create or replace view articles as
select * from articles_among([], every := true);
