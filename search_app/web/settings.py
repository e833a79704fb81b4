"""The web layer's settings: the server's address, workers and threads, hot swap, request limits, the host names
it answers for and the base of its absolute URLs; and the views the web layer reads.

The registry (``indexer.settings``) reads ``SETTINGS`` through the ``medsearch.settings`` entry point
(pyproject.toml), so that they are listed, documented and checked with the core's while the core imports nothing
of this layer. No Flask here: the registry may read this module in any command.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexer.settings import Setting, nonempty

from .hostnames import BadHost, parse_allowed

if TYPE_CHECKING:
    from ..core.settings import SearchSettings


def _url(value: str) -> bool:
    return value == "" or value.startswith(("http://", "https://"))


def _host_names(value: str) -> bool:
    try:
        parse_allowed(value)
    except BadHost:
        return False
    return True


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "Address the server listens on.", check=nonempty, check_help="an address"),
    Setting("port", int, 5000, "Port the server listens on; 0 picks a free one.", min=0, max=65535),
    Setting("workers", int, 2, "Worker processes of the production server (`make serve-prod`); they share the "
            "preloaded model and index pages.", min=1, max=64),
    Setting("threads", int, 4, "Threads per production worker (requests one worker answers at once).",
            min=1, max=64),
    Setting("reload_interval_ms", int, 1000, "How often, at most, a serving process checks `INDEX/current` for a "
            "newly published build and swaps to it without a restart; 0 turns that off.", min=0, max=3_600_000),
    Setting("rate_limit_per_minute", int, 0, "Requests per minute one client address may make (a token bucket "
            "shared by all workers; over it: 429 with `Retry-After`); 0 turns the limit off, as suits local use.",
            min=0, max=1_000_000),
    Setting("rate_limit_burst", int, 30, "Requests a client may make at once before the per-minute rate applies.",
            min=1, max=1_000_000),
    Setting("trusted_proxies", int, 0, "Reverse proxies in front of the server whose X-Forwarded-For names the "
            "client (for the rate limit); 0 uses the connecting address.", min=0, max=10),
    Setting("max_body_bytes", int, 16384, "Largest request body accepted (the API takes its parameters in the "
            "URL); larger ones get 413.", min=0, max=16 * 1024 * 1024),
    Setting("public_url", str, "", "Base URL put before permalinks in API citations (e.g. "
            "https://medsearch.example.org); empty: the request's Host when it is in allowed_hosts, else "
            "http://HOST:PORT of these settings (never a Host the allow-list does not name).",
            check=_url, check_help="empty or a URL starting with http:// or https://"),
    Setting("allowed_hosts", str, "", "Host names this server answers for, comma-separated (`.example.org` also "
            "allows its subdomains; the port is not compared); any other Host gets 400. Empty: any well-formed "
            "Host is answered, and absolute URLs never use it.", check=_host_names,
            check_help="empty or comma-separated host names"),
)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What the server reads: where it listens, its processes, hot swap, request limits, hosts and public URL."""

    host: str
    port: int
    workers: int
    threads: int
    reload_interval_ms: int
    rate_limit_per_minute: int
    rate_limit_burst: int
    trusted_proxies: int
    max_body_bytes: int
    public_url: str
    allowed_hosts: tuple[str, ...]  # checked names, lower case (``.example.org`` also allows its subdomains)

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> ServerSettings:
        """The server's view of resolved settings (``indexer.settings.resolve()``)."""
        if "host" not in conf:  # an install older than the entry point through which the registry reads SETTINGS
            raise RuntimeError("the settings registry has not read the web layer's settings: run `make install` "
                               "(pip install -e .) so that the medsearch.settings entry point is installed")
        return cls(host=conf["host"], port=conf["port"], workers=conf["workers"], threads=conf["threads"],
                   reload_interval_ms=conf["reload_interval_ms"], rate_limit_per_minute=conf["rate_limit_per_minute"],
                   rate_limit_burst=conf["rate_limit_burst"], trusted_proxies=conf["trusted_proxies"],
                   max_body_bytes=conf["max_body_bytes"], public_url=conf["public_url"],
                   allowed_hosts=parse_allowed(conf["allowed_hosts"]))  # checked by the registry already


@dataclass(frozen=True, slots=True)
class AppSettings:
    """What the app reads (``app.config["MEDSEARCH"]``): the search core's settings and the server's."""

    search: SearchSettings
    server: ServerSettings

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> AppSettings:
        """Both views of resolved settings (``indexer.settings.resolve()``)."""
        from ..core.settings import SearchSettings

        return cls(SearchSettings.from_conf(conf), ServerSettings.from_conf(conf))


def app_settings() -> AppSettings:
    """The settings of the app answering this request (``create_app`` keeps them in ``app.config``)."""
    from flask import current_app  # here, not at the top: the registry reads this module in every command

    return current_app.config["MEDSEARCH"]
