-- Is each source healthy in a run?
-- Per source: the run's yield (share of fetched pages that became articles) and failure rates,
-- against the source's mean yield over its previous runs, with a state: ok, new (no baseline
-- yet), warning: yield below baseline, warning: failures.
-- $run_id: the run to report (required: no default)
-- $baseline_runs (default 5): how many earlier runs with pages from the source make its baseline
-- $yield_drop (default 0.5): flag a yield below this share of the baseline
-- $max_failure_rate (default 0.2): flag a source when more of its pages than this failed (4xx, 5xx, blocked)
-- example: wirehouse sql --file source_health --param run_id=5359bcd5...
with committed_runs as (
    select run_id, started_at from runs
),
page_fetches as (
    select run_id, source, outcome from fetches where kind = 'page'
),
per_run as (
    select
        run_id,
        source,
        count(*) as pages,
        avg(case when outcome = 'ok' then 1 else 0 end) as yield,
        avg(case when outcome in ('extraction_empty', 'not_article') then 1 else 0 end) as empty_rate,
        avg(case when outcome = 'http_4xx' then 1 else 0 end) as http_4xx_rate,
        avg(case when outcome = 'http_5xx' then 1 else 0 end) as http_5xx_rate,
        avg(case when outcome = 'blocked' then 1 else 0 end) as blocked_rate
    from page_fetches
    group by run_id, source
),
earlier as (
    select
        per_run.source,
        per_run.yield,
        row_number() over (partition by per_run.source order by committed_runs.started_at desc) as recency
    from per_run
    join committed_runs using (run_id)
    where committed_runs.started_at < (select started_at from committed_runs where run_id = $run_id)
),
baselines as (
    select source, avg(yield) as baseline_yield, count(*) as baseline_n
    from earlier
    where recency <= cast($baseline_runs as integer)
    group by source
),
dates as (
    select source, avg(case when date_published is null then 1 else 0 end) as missing_date_rate
    from articles
    where loaded_by_run = $run_id
    group by source
),
current_run as (
    select * from per_run where run_id = $run_id
),
final as (
    select
        current_run.source,
        current_run.pages,
        round(current_run.yield, 3) as yield,
        round(baselines.baseline_yield, 3) as baseline_yield,
        coalesce(baselines.baseline_n, 0) as baseline_runs,
        round(current_run.empty_rate, 3) as empty_rate,
        round(coalesce(dates.missing_date_rate, 0), 3) as missing_date_rate,
        round(current_run.http_4xx_rate, 3) as http_4xx_rate,
        round(current_run.http_5xx_rate, 3) as http_5xx_rate,
        round(current_run.blocked_rate, 3) as blocked_rate,
        case
            when current_run.http_4xx_rate + current_run.http_5xx_rate + current_run.blocked_rate > cast($max_failure_rate as double)
                then 'warning: failures'
            when baselines.baseline_yield > 0 and current_run.yield < cast($yield_drop as double) * baselines.baseline_yield
                then 'warning: yield below baseline'
            when baselines.baseline_yield is null then 'new'
            else 'ok'
        end as state
    from current_run
    left join baselines using (source)
    left join dates using (source)
    order by current_run.source
)
select * from final;
