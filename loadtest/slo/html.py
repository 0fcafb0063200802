"""A report's Markdown as one self-contained HTML file beside it (charts embedded), to mail or
attach where a directory of PNGs would not travel."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}
img{max-width:100%}pre{background:#f5f5f5;padding:.5em;overflow-x:auto}"""


def _inline(match: re.Match[str], directory: Path) -> str:
    path = directory / match.group(1)
    if not path.is_file():
        return match.group(0)
    data = base64.b64encode(path.read_bytes()).decode()
    return f'src="data:image/png;base64,{data}"'


# markdown-it puts every table tag on a line of its own; a row (or head/body tag) per line keeps
# the page readable as text and a quarter of the length.
_TABLE_BREAK = re.compile(r"(?<=<tr>)\n|\n(?=</?t[dh]\b|</tr>)")


def _compact(body: str) -> str:
    return _TABLE_BREAK.sub("", body)


def write(markdown: Path) -> Path:
    """`<name>.html` beside `<name>.md`, its PNG images inlined as data URIs."""
    body = _compact(MarkdownIt("commonmark").enable("table").render(markdown.read_text()))
    body = re.sub(r'src="([^":]+\.png)"', lambda m: _inline(m, markdown.parent), body)
    title = markdown.read_text().partition("\n")[0].lstrip("# ")
    page = (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n"
    )
    out = markdown.with_suffix(".html")
    out.write_text(page)
    return out
