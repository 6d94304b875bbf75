"""The bundled sample news site: fictional outlets, original articles, served on 127.0.0.1.

`wirehouse run` with no arguments ingests it through the same HTTP code that fetches real
sites; tests read the ground truth from `load_catalog()`.
"""

from wirehouse.sample.catalog import Article, Catalog, Outlet, load_catalog
from wirehouse.sample.server import SampleSite, serve_sample_site

__all__ = ["Article", "Catalog", "Outlet", "SampleSite", "load_catalog", "serve_sample_site"]
