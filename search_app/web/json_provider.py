"""Flask's JSON, encoded by orjson: the same documents as Flask's default provider, about 5 times faster.

A search answer is 25-30 kB of JSON; the json module took 0.18-0.22 ms to write one, orjson
0.04 ms (`bench/README.md`, issue 12). Keys stay sorted, as Flask sorts them. Unlike the json
module, text outside ASCII is written as UTF-8 rather than ``\\u`` escapes (the same JSON once
parsed); pretty-printing (``JSONIFY_PRETTYPRINT_REGULAR``, debug mode) and any option orjson does
not have go to Flask's own provider. Dates, UUIDs and dataclasses are native to orjson (dates in ISO
8601, where Flask writes HTTP dates; the app sends none); other values fall back to Flask's ``default``.
"""
from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_COMPACT = (",", ":")  # what Flask asks of every answer outside debug mode: orjson's only layout


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("separators", _COMPACT) != _COMPACT or kwargs.keys() - {"separators"}:
            return super().dumps(obj, **kwargs)  # indent and the like: what only the json module does
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
