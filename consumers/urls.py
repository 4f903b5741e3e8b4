"""Canonical story URLs: absolute, normalised, without tracking parameters.

The canonical URL is the strongest story identity (the story id is its hash), so two links to the same article
must canonicalise to one string: the scheme and host are lower-cased, default ports and fragments dropped, the
tracking parameters publishers and newsletters append (``utm_*``, ``fbclid``, Reuters' ``feedType``...) removed
and the remaining query sorted. Relative links are resolved against the entry's base (the feed URL).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mkt_tok", "ocid", "cmpid", "ncid",
    "soc_src", "soc_trk", "feedtype", "feedname", "ref", "ref_src", "smid", "__source", "s_cid",
    "__twitter_impression", "guccounter", "guce_referrer", "guce_referrer_sig", "sr_share",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(link: str | None, base: str | None = None) -> str:
    """The canonical absolute http(s) URL of ``link``, or ``""`` when it is missing or not a web URL."""
    if not link or not link.strip():
        return ""
    raw = link.strip()
    try:
        absolute = urljoin(base, raw) if base else raw
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    host = parts.hostname.lower().rstrip(".")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(key)]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))
