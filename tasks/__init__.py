"""Pipeline stages: fetch, extract, dedup, enrich, load. Plain functions first, one thin @task each."""
