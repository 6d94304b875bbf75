"""URL canonicalisation and the article id: defined once, used by Python and (as a UDF) by SQL."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; dropping them never changes the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp", "ito", "ns_mchannel",
        "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "sr_share", "share", "smid",
        "ocid", "taid", "s_cid", "at_medium", "at_campaign", "amp", "outputtype",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "_ga")
_AMP_PATH = re.compile(r"(/amp/?$|/amp(?=/)|\.amp(?=\.html?$)|\.amp$)")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL an article is known by: one spelling for all the ways a reader may reach it.

    Lowercases scheme and host, drops the port when it is the default, "www." and "amp."
    host prefixes, the fragment, tracking parameters (utm_*, fbclid, ...), AMP path variants
    (/amp, .amp.html) and a trailing slash; the remaining query parameters are sorted.
    """
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "amp."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = _AMP_PATH.sub("", parts.path) or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    # http and https name the same article: identity ignores the scheme.
    return urlunsplit(("https" if scheme in ("http", "https") else scheme, host, path, urlencode(query), ""))


def article_id(canonical: str) -> str:
    """The stable article key: 16 hex digits of SHA-256 over the canonical URL."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def url_article_id(url: str) -> str:
    """The article id of any spelling of a URL."""
    return article_id(canonical_url(url))


def content_hash(text: str) -> str:
    """SHA-256 (hex, 16 digits) of whitespace- and case-folded text: equal for exact copies."""
    folded = " ".join(text.lower().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:16]


def html_hash(html: str) -> str:
    """16 hex digits of SHA-256 over a fetched body as decoded: `raw_pages.html_hash`, `fetches.content_hash`."""
    return hashlib.sha256(html.encode("utf-8")).hexdigest()[:16]
