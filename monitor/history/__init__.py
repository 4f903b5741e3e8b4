"""History: run a news file of the past through the pipeline (``bearwatch replay`` and ``bearwatch backtest``).

Both read the file through :func:`consumers.replay.source.load_stories` with the live consumers' linker and
de-duplicator (``reading``), take one :class:`~monitor.history.options.RunOptions`, get their own run id and
namespace (``run_names``) and write ``alerts.json``/``rejected.csv`` the same way (``run_files``); ``cli`` declares
both commands' flags once and ``infrastructure`` starts an embedded Kafka/Redis when none is configured.

- Kafka replay, through a real worker: ``kafka_run`` runs it, ``replay_worker`` is the spawned worker,
  ``kafka_publish`` and ``pacing`` produce the stories in event time, ``kafka_completion`` says when it is done.
- In-process backtest, without Kafka: ``backtest_run`` runs it (scoring over ``score_cache``/``run_cache``,
  evaluation in ``engine``), ``outputs`` writes alerts, the per-minute sentiment ``index`` and the HTML ``report``;
  ``events`` scores alerts against known events.

See ``docs/replay.md``.
"""
