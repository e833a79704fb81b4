"""Streaming JSON within bounds: a byte-counting reader and values read one at a time from ijson's events.

A source JSON file can be of any size or shape, so nothing here loads a document whole:
`BoundedReader` refuses to hand the parser more than ``total`` bytes, or more than ``per_value``
bytes inside the value being read, and `read_value` builds one value from ijson's low-level
events (``basic_parse``, which carries no path prefixes: ijson's prefixed events grow with the
nesting depth, so a deep document cost memory in the square of its depth), building nothing past
``max_depth`` levels.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import ijson

# How many bytes ijson asks for at a time: its C backend turns each chunk into a list of events
# before it yields one, so the chunk bounds that list; it also re-scans a string that spans
# chunks, so one string costs time in the square of its size over this.
CHUNK = 64 * 1024

Event = tuple[str, Any]
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})
_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number",
          float: "a number", type(None): "null"}


def json_kind(value: object) -> str:
    """What a JSON value is, in words ("a number", "a list"), for a message about its type."""
    return _KINDS.get(type(value), type(value).__name__)


def size_text(n: int) -> str:
    """A byte count as people read it: "12 bytes", "3.0 MiB"."""
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n} bytes"


class TooLarge(Exception):
    """The stream went past one of its reader's bounds; the parse cannot go on.

    ``value`` names the value over ``per_value`` ("label 3"), with its ``record`` number when it is
    one; both are None when the stream as a whole went over ``total``.
    """

    def __init__(self, message: str, value: str | None = None, record: int | None = None):
        super().__init__(message)
        self.value, self.record = value, record


class BoundedReader:
    """A binary stream for ijson that counts the bytes read: at most ``total``, at most ``per_value`` in one value.

    The reader cannot see where a value starts inside a chunk, so `mark` (called when a value
    starts) counts from the end of the chunk being parsed: a value may run one chunk over ``per_value``.
    """

    def __init__(self, raw: IO[bytes], total: int, too_large: str, per_value: int):
        self.raw, self.total, self.too_large, self.per_value = raw, total, too_large, per_value
        self.position = 0
        self._mark = 0
        self._what = "the start of the file"
        self._record: int | None = None

    def mark(self, what: str, record: int | None = None) -> None:
        """Start counting the bytes of a new value, named ``what`` in a refusal ("label 3"), ``record`` its number."""
        self._mark, self._what, self._record = self.position, what, record

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (ijson asks for one chunk at a time); TooLarge past a bound."""
        size = CHUNK if size < 0 else size
        data = self.raw.read(min(size, self.total + 1 - self.position))
        self.position += len(data)
        if self.position > self.total:
            raise TooLarge(self.too_large)
        if self.position - self._mark > self.per_value:
            raise TooLarge(f"{self._what} is larger than {size_text(self.per_value)}", self._what, self._record)
        return data


def events(reader: BoundedReader) -> Iterator[Event]:
    """ijson's low-level events of the reader's one JSON document (numbers with fractions as floats)."""
    return ijson.basic_parse(reader, buf_size=CHUNK, use_float=True)


class TooDeep:
    """In place of a value nested deeper than allowed: it was read to its end but not built."""

    def __init__(self, max_depth: int):
        self.max_depth = max_depth


def read_value(first: Event, stream: Iterator[Event], max_depth: int, build: bool = True) -> Any:
    """The value that starts with event ``first``, read to its end from ``stream``.

    Objects and lists nested more than ``max_depth`` levels deep (the value itself is level 1)
    give a `TooDeep`; ``build=False`` reads past a value without building it (None).
    """
    kind, value = first
    if kind not in _OPEN:
        return value if build else None
    builder = ijson.ObjectBuilder() if build else None
    depth, event = 0, first
    while True:
        kind, value = event
        if kind in _OPEN:
            depth += 1
            if depth > max_depth:
                builder = None  # a level too deep: drop what was built, read on to the value's end
        elif kind in _CLOSE:
            depth -= 1
        if builder is not None:
            builder.event(kind, value)
        if depth == 0:
            break
        event = next(stream)
    if builder is not None:
        return builder.value
    return TooDeep(max_depth) if build else None
