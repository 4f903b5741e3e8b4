"""Bearwatch core: settings, message contracts, model, stream worker, windows, embedded stack and CLI."""

__version__ = "0.1.0"
