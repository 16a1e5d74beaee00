"""Model outputs and comments as HTML a browser may show: Markdown rendered, then sanitised.

markdown-it-py renders CommonMark with raw HTML off (a `<script>` in a model's text stays text);
nh3 (ammonia) then keeps only harmless tags and attributes, and links get `rel="noopener
noreferrer nofollow"`. Whatever a model or a person wrote, no script runs in the page.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

__all__ = ["render_markdown", "render_value"]

_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """`text` (Markdown) as sanitised HTML."""
    html = _parser().render(text)
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # sanitised by nh3 just above


def render_value(value: Any) -> Markup:
    """An output field's value: a text as Markdown, anything else as indented JSON."""
    if isinstance(value, str):
        return render_markdown(value)
    if value is None:
        return Markup("<p class='none'>none</p>")
    if isinstance(value, bool | int | float):
        return Markup("<p>") + escape(json.dumps(value)) + Markup("</p>")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        items = [Markup("<li>") + render_markdown(v) + Markup("</li>") for v in value]
        return Markup("<ul>") + Markup("").join(items) + Markup("</ul>")
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return Markup("<pre><code>") + escape(text) + Markup("</code></pre>")
