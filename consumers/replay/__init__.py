"""Historical news files → :class:`monitor.ground.contracts.Story`, read exactly as the live consumers would.

This package does only that: files (CSV, TSV, JSONL, JSON, Parquet with a column mapping; saved RSS/Atom) are read
into :class:`consumers.entries.RawEntry` rows (``readers``, ``columns``, ``eventtime``) and normalised by the same
:func:`consumers.normalise.normalise_entry`, ticker linker and :class:`consumers.dedup.Deduplicator` as the live
consumers (``source``), so a replayed story has the id, text, tickers, cluster and novelty it would have had live.
What is done with the stories -- a Kafka replay or an in-process backtest -- lives in :mod:`monitor.history`,
which sits above the stages and alerts it runs. See ``docs/replay.md``.
"""
