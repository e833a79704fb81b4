"""medsearch core: load medication articles, split them into passages, embed and index them."""

__version__ = "0.1.0"
