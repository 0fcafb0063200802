"""shop: an async e-commerce backend built to be load-tested, observed and operated."""

__version__ = "0.1.0"
