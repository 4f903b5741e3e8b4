"""HTML fragments from feeds to plain text: what the model reads and what a human sees in an alert.

Feeds put markup, entities (sometimes escaped twice: ``&amp;amp;``), scripts and ragged whitespace into titles and
summaries. The model was trained on plain sentences, so every tag is dropped (block tags become a space so words
do not fuse), ``<script>``/``<style>`` content is dropped whole, entities are decoded and whitespace collapsed.
The standard library's tolerant HTML parser is used: it never raises on broken markup.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_SPACE = re.compile(r"\s+")
# C0/C1 control characters other than whitespace (a NUL byte once survived into a title): never text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_LEFTOVER_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "title"})
_BLOCK = frozenset({
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "section", "article", "header", "footer", "hr", "pre", "dd", "dt", "figcaption",
})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(fragment: str | None, max_chars: int | None = None) -> str:
    """Plain text of an HTML (or plain) fragment: no tags, entities decoded, whitespace collapsed."""
    if not fragment:
        return ""
    if "<" in fragment or "&" in fragment:
        collector = _TextCollector()
        collector.feed(fragment)
        collector.close()
        text = "".join(collector.parts)
        if _LEFTOVER_ENTITY.search(text):  # double-escaped feeds: "&amp;amp;" became "&amp;"
            text = html.unescape(text)
    else:
        text = fragment
    text = _SPACE.sub(" ", CONTROL.sub("", text)).strip()
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text
