"""Host names as an HTTP Host header or the ``allowed_hosts`` setting gives them: checked, never trusted.

A name is ASCII letters, digits and inner hyphens in labels of 1 to 63 characters, at most 253
in all; an ``xn--`` label must be valid punycode; an IPv6 literal is bracketed. No Flask here:
the web layer's settings (``search_app.web.settings``), which the registry reads in every command,
check ``allowed_hosts`` with the same rules the server applies.
"""
from __future__ import annotations

import ipaddress
import re

MAX_NAME_CHARS = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # letters, digits, inner hyphens: 1 to 63
_PORT = re.compile(r"[0-9]{1,5}")


class BadHost(ValueError):
    """A Host header that is not a host name, with the reason."""


def check_name(name: str) -> str:
    """A host name or IP literal, lower case and without a trailing dot; ``BadHost`` saying why not."""
    name = name.lower()
    if name.startswith("["):
        if not name.endswith("]"):
            raise BadHost("an IPv6 address must be closed by ']'")
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            raise BadHost("not an IPv6 address") from None
        return name
    if not name.isascii():
        raise BadHost("a host name is ASCII (an international name is sent as xn-- punycode)")
    name = name[:-1] if name.endswith(".") else name
    if not name:
        raise BadHost("the host name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise BadHost(f"a host name is at most {MAX_NAME_CHARS} characters long")
    for label in name.split("."):
        if not label:
            raise BadHost("a host name has no empty label ('..')")
        if len(label) > 63:
            raise BadHost("a label of a host name is at most 63 characters long")
        if not _LABEL.fullmatch(label):
            raise BadHost("a host name holds only letters, digits, dots and inner hyphens")
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise BadHost(f"{label!r} is not valid punycode") from None
    return name


def check_host(raw: str) -> str:
    """A Host header (``name[:port]``) checked and normalised; ``BadHost`` saying why it is refused."""
    name, port = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end > 0 and raw[end + 1:].startswith(":"):
            name, port = raw[:end + 1], raw[end + 2:]
    elif ":" in raw:
        name, _, port = raw.rpartition(":")
    if port or raw.endswith(":"):
        if not _PORT.fullmatch(port) or not 0 < int(port) <= 65535:
            raise BadHost("the port must be a number from 1 to 65535")
    name = check_name(name)
    return f"{name}:{int(port)}" if port else name


def allowed(host: str, names: tuple[str, ...]) -> bool:
    """Whether a checked host is one of ``names`` (``.example.org`` also allows its subdomains); port ignored."""
    name = host.rpartition(":")[0] if ":" in host and not host.endswith("]") else host
    for entry in names:
        if entry.startswith(".") and (name == entry[1:] or name.endswith(entry)):
            return True
        if name == entry:
            return True
    return False


def parse_allowed(value: str) -> tuple[str, ...]:
    """The ``allowed_hosts`` setting (comma-separated names) as checked names; ``BadHost`` if one is not a name."""
    names = []
    for entry in (part.strip() for part in value.split(",")):
        if entry:
            names.append("." + check_name(entry[1:]) if entry.startswith(".") else check_name(entry))
    return tuple(names)
