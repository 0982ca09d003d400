"""A card's `detail` as HTML for the chart: CDS Hooks 2.0 sends it as Markdown.

The detail comes from a remote CDS service, so it is rendered as untrusted: raw HTML in it is
shown as text (markdown-it's "js-default" preset has `html` off), links with a script, file or
non-image data scheme stay text (markdown-it's `validateLink`), and links open in a new tab
without handing the chart window or its address to the site they lead to.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

LINK_TARGET = "_blank"
# noopener: the linked page gets no `window.opener` to steer the chart with; noreferrer: no
# Referer naming the chart's URL, which holds the patient's id.
LINK_REL = "noopener noreferrer"


@functools.cache
def _markdown() -> MarkdownIt:
    # Built on first use, once: CommonMark plus GFM tables and strikethrough, no raw HTML.
    markdown = MarkdownIt("js-default", {"html": False, "linkify": False})
    markdown.add_render_rule("link_open", _open_link)
    return markdown


def _open_link(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    index: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    tokens[index].attrSet("target", LINK_TARGET)
    tokens[index].attrSet("rel", LINK_REL)
    return renderer.renderToken(tokens, index, options, env)


def render_card_markdown(text: str) -> Markup:
    """A card detail's Markdown as HTML that is safe to put in the chart."""
    # Safe to mark: with `html` off, markdown-it escapes every character of the source that
    # reaches the output, and drops links whose scheme `validateLink` refuses.
    return Markup(_markdown().render(text))  # noqa: S704
