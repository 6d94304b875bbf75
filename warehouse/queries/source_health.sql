-- Is each source healthy in a run?
-- (A run committed in slices, run.commit_every, is taken whole: every slice of its flow run.)
-- Per source: the run's yield (share of fetched pages that became articles) and failure rates,
-- against the source's mean yield over its previous runs, with a state: ok, new (no baseline
-- yet), warning: yield below baseline, warning: failures.
-- $run_id: the run to report (required: no default)
-- $baseline_runs (default 5): how many earlier runs with pages from the source make its baseline
-- $yield_drop (default 0.5): flag a yield below this share of the baseline
-- $max_failure_rate (default 0.2): flag a source when more of its pages than this failed (4xx, 5xx, blocked)
-- example: wirehouse sql --file source_health --param run_id=5359bcd5...
with committed_runs as (
    -- an ingest committed in slices (run.commit_every) is one ingest: its slices share a flow run
    select run_id, coalesce(flow_run_id, run_id) as ingest_id, started_at from runs
),
ingests as (
    select ingest_id, min(started_at) as started_at from committed_runs group by ingest_id
),
wanted as (
    select ingest_id from committed_runs where run_id = $run_id
),
page_fetches as (
    select committed_runs.ingest_id as run_id, source, outcome
    from fetches
    join committed_runs using (run_id)
    where kind = 'page'
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
        row_number() over (partition by per_run.source order by ingests.started_at desc) as recency
    from per_run
    join ingests on ingests.ingest_id = per_run.run_id
    where ingests.started_at < (select started_at from ingests where ingest_id = (select ingest_id from wanted))
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
    join committed_runs on committed_runs.run_id = articles.loaded_by_run
    where committed_runs.ingest_id = (select ingest_id from wanted)
    group by source
),
current_run as (
    select * from per_run where run_id = (select ingest_id from wanted)
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
