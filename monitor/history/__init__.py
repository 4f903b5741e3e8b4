"""In-process backtesting of alert rules on historical news files (``bearwatch backtest``).

The same read/normalise/dedup path as the Kafka replay (:mod:`consumers.replay.source`), the worker's scorer over
an on-disk score cache, and the live window and detector code, without Kafka: ``runner`` runs it, ``outputs``
writes alerts, the per-minute sentiment ``index`` and the HTML ``report``; ``events`` scores alerts against known
events. See ``docs/replay.md``.
"""
