"""A card's detail as the demo EHR's chart shows it: Markdown made HTML, hostile input made text."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from demo_ehr.card_markdown import render_card_markdown

LINK_ATTRIBUTES = 'target="_blank" rel="noopener noreferrer"'


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        pytest.param("## Next steps", "<h2>Next steps</h2>\n", id="heading"),
        pytest.param(
            "**Raised the estimate:**\n- BMI 31\n- Age 52",
            "<p><strong>Raised the estimate:</strong></p>\n"
            "<ul>\n<li>BMI 31</li>\n<li>Age 52</li>\n</ul>\n",
            id="list",
        ),
        pytest.param(
            "> Screen adults with overweight.",
            "<blockquote>\n<p>Screen adults with overweight.</p>\n</blockquote>\n",
            id="blockquote",
        ),
        pytest.param(
            "[Model card](https://cds.example/model-cards/dysglycemia)",
            '<p><a href="https://cds.example/model-cards/dysglycemia" '
            f"{LINK_ATTRIBUTES}>Model card</a></p>\n",
            id="link",
        ),
        pytest.param(
            "| Input | Value |\n|---|---|\n| BMI | 31 |",
            "<table>\n<thead>\n<tr>\n<th>Input</th>\n<th>Value</th>\n</tr>\n</thead>\n"
            "<tbody>\n<tr>\n<td>BMI</td>\n<td>31</td>\n</tr>\n</tbody>\n</table>\n",
            id="table",
        ),
        pytest.param(
            "<script>alert(1)</script>",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
            id="script-escaped",
        ),
        pytest.param(
            '<a href="https://evil.example" onclick="alert(1)">x</a>',
            "<p>&lt;a href=&quot;https://evil.example&quot; onclick=&quot;alert(1)&quot;&gt;"
            "x&lt;/a&gt;</p>\n",
            id="raw-html-link-escaped",
        ),
        pytest.param(
            "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n", id="javascript-link"
        ),
        pytest.param(
            "[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>\n", id="javascript-case"
        ),
        pytest.param(
            "[x]: javascript:alert(1)\n\n[y][x]",
            "<p>[x]: javascript:alert(1)</p>\n<p>[y][x]</p>\n",
            id="javascript-reference",
        ),
        pytest.param(
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "<p>[x](data:text/html;base64,PHNjcmlwdD4=)</p>\n",
            id="data-html-link",
        ),
        pytest.param("`<b>`", "<p><code>&lt;b&gt;</code></p>\n", id="code-escaped"),
    ],
)
def test_card_detail_markdown_becomes_safe_html(markdown: str, html: str) -> None:
    rendered = render_card_markdown(markdown)
    assert isinstance(rendered, Markup)
    assert str(rendered) == html
