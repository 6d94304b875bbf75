-- Which outlets copy which?
-- For each pair (copying outlet, original outlet): how many of the original's articles the other
-- ran as an exact copy, a near copy or a teaser (a short opening excerpt), and how long after.
-- From the duplicate groups: a copy's duplicate_of names its group's canonical article (the
-- earliest, or the full text when the earliest is a teaser of it; a teaser's lag can be negative).
-- $since (default 1970-01-01): only copies published (or, undated, fetched) on or after this day
-- example: wirehouse sql --file outlet_copies --param since=2026-11-01
with copies as (
    select
        copy.source as copier,
        original.source as original,
        copy.duplicate_kind,
        coalesce(copy.date_published, copy.fetched_at) - coalesce(original.date_published, original.fetched_at) as lag
    from articles as copy
    join articles as original on copy.duplicate_of = original.article_id
    where coalesce(copy.date_published, copy.fetched_at) >= cast($since as date)
),
final as (
    select
        copier,
        original,
        count(*) as copies,
        count(*) filter (where duplicate_kind = 'exact') as exact_copies,
        count(*) filter (where duplicate_kind = 'near') as near_copies,
        count(*) filter (where duplicate_kind = 'teaser') as teasers,
        to_minutes(cast(median(epoch(lag)) / 60 as bigint)) as median_lag
    from copies
    group by copier, original
)
select * from final
order by copies desc, copier, original;
