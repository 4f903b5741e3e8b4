"""Replay of historical news files through the live pipeline, in event time (``bearwatch replay``).

Files (CSV, JSONL, Parquet with a column mapping; saved RSS/Atom) are read into :class:`consumers.entries.RawEntry`
rows and normalised by the same :func:`consumers.normalise.normalise_entry`, ticker linker and
:class:`consumers.dedup.Deduplicator` as the live consumers, so a replayed story has the id, text, tickers, cluster
and novelty it would have had live. Each run has its own Redis namespace and its own one-partition topics
(:mod:`consumers.replay.naming`), so replays never mix with live data or with each other. The in-process backtest
(:mod:`monitor.history`) reads files through the same :func:`consumers.replay.source.load_stories`.
See ``docs/replay.md``.
"""
