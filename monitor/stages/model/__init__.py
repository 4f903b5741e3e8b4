"""The topic + sentiment model: data, two-head network, training, evaluation, and the inference engine.

Importing this package is cheap (no torch); import :mod:`monitor.stages.model.engine` for scoring and
:mod:`monitor.stages.model.train` for training. Nothing here imports Bearwatch settings, so training also runs
standalone (``python -m monitor.stages.model.train``) on a machine that has only torch, transformers, numpy and rich.
"""
