from wirehouse.config.sources import Source
from wirehouse.flows.deployments import deployment_name, group_by_schedule


def _source(name, schedule=None, enabled=True):
    return Source(name=name, feeds=[f"https://{name}.example/feed.xml"], schedule=schedule, enabled=enabled)


def test_sources_are_grouped_by_their_schedule_and_disabled_ones_left_out():
    sources = [
        _source("ledger", "*/15 * * * *"), _source("courier"), _source("lantern", "*/15 * * * *"),
        _source("dispatch", enabled=False),
    ]
    groups = group_by_schedule(sources, default_cron="0 * * * *")
    assert {cron: [s.name for s in group] for cron, group in groups.items()} == {
        "*/15 * * * *": ["ledger", "lantern"],
        "0 * * * *": ["courier"],
    }
    assert deployment_name(groups["*/15 * * * *"], only_group=False) == "ingest-ledger-and-1-more"
    assert deployment_name(groups["0 * * * *"], only_group=False) == "ingest-courier"


def test_an_override_puts_every_source_on_one_schedule():
    groups = group_by_schedule([_source("a", "*/5 * * * *"), _source("b")], "0 * * * *", override="* * * * *")
    assert list(groups) == ["* * * * *"]
    assert deployment_name(groups["* * * * *"], only_group=True) == "scheduled-ingest"
