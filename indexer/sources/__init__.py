"""Finding article files and turning each into `Article`s with clean, stably-identified sections.

Four input formats, one module and loader each (the suffix table `LOADERS` in `files.py`):

- ``.md`` / ``.markdown``: our own corpus format (YAML front matter + Markdown body).
- ``.html`` / ``.htm``: a page saved from the web; only the article body is kept.
- ``.txt``: a page a browser saved as plain text (headings as bare lines, site chrome mixed in).
- ``.jsonl``: the shared article format, one article per line, ids kept exactly as given.

A file or record that cannot be used becomes a `Skipped` (path + human-readable reason) in
the stream instead of an exception, so one bad file never stops a build of thousands.

Decisions worth knowing:

- Encodings: UTF-8 (with or without BOM) and UTF-16 with a BOM are read. HTML that is not
  UTF-8 is decoded with the charset its ``<meta>`` declares. Anything else is skipped with
  a reason rather than guessed at (e.g. as cp1252): mojibake silently indexed is worse than
  a reported file that names the fix.
- Section ids are derived from the content only (publisher anchor, else heading slug,
  ``-2``/``-3`` for repeats, ``overview`` for intro text), so they survive rebuilds.
- A heading with no text of its own (a grouping heading, or a table-of-contents line) is
  not a section. "Disclaimer" sections go to ``meta["disclaimer"]`` and "References"
  sections to ``meta["references"]`` (``[{"title", "url"}]``, bare citation numbers
  dropped): neither is article text a reader searches for.
"""
from __future__ import annotations

from .assemble import NO_TEXT, Loader, Skipped, slugify
from .files import LOADERS, discover, iter_articles, load_file
from .html import load_html
from .jsonl import load_jsonl
from .markdown import load_markdown
from .text import load_text

__all__ = [
    "LOADERS", "NO_TEXT", "Loader", "Skipped", "discover", "iter_articles", "load_file", "load_html",
    "load_jsonl", "load_markdown", "load_text", "slugify",
]
