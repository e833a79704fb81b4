"""medsearch core: load medication articles, split them into passages, embed and index them."""

from . import offline

__version__ = "0.1.0"

offline.apply()  # before any dependency is imported: they read their telemetry switches once, when they load
