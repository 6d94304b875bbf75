-- Which entities are rising: in more reports over the last days than their baseline predicts?
-- Compares each entity's reports per day in the recent window (ending on $as_of) with its rate
-- over the baseline window just before it; rise = recent rate / (baseline rate + 0.5), the 0.5
-- keeping a never-seen entity from an infinite score. Copies of one report count once.
-- $as_of (default ): the last day of the recent window; empty for the newest article's day
-- $recent_days (default 2): days in the recent window
-- $baseline_days (default 7): days in the baseline window before it
-- $min_reports (default 2): reports in the recent window an entity needs to be listed
-- $top (default 20): rows kept
-- example: wirehouse sql --file rising_entities --param as_of=2026-11-21 --param recent_days=3
with bounds as (
    select
        coalesce(try_cast(nullif($as_of, '') as date), max(cast(coalesce(date_published, fetched_at) as date))) as last_day
    from articles
),
windows as (
    select
        last_day,
        last_day - cast($recent_days as integer) + 1 as recent_from,
        last_day - cast($recent_days as integer) - cast($baseline_days as integer) + 1 as baseline_from
    from bounds
),
reports as (
    select distinct
        article_entities.entity_id,
        coalesce(articles.duplicate_of, articles.article_id) as report_id,
        cast(coalesce(articles.date_published, articles.fetched_at) as date) as day
    from article_entities
    join articles using (article_id)
    where article_entities.entity_id is not null
),
counts as (
    select
        reports.entity_id,
        count(distinct report_id) filter (where day >= windows.recent_from) as recent,
        count(distinct report_id) filter (where day < windows.recent_from) as baseline
    from reports, windows
    where reports.day between windows.baseline_from and windows.last_day
    group by reports.entity_id
),
final as (
    select
        entities.name,
        entities.label,
        counts.recent,
        counts.baseline,
        round(
            (counts.recent / cast($recent_days as double))
            / (counts.baseline / cast($baseline_days as double) + 0.5),
            2
        ) as rise,
        entities.entity_id
    from counts
    join entities using (entity_id)
    where counts.recent >= cast($min_reports as integer)
)
select * from final
order by rise desc, recent desc, name
limit cast($top as integer);
