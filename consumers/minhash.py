"""MinHash signatures of headlines, and their LSH band keys, for near-duplicate detection.

The same story reaches us from several feeds with small edits ("Apple shares fall 5% after iPhone miss" /
"UPDATE 1-Apple shares fall 5 pct after iPhone miss - Reuters"). Character 4-gram shingles of the normalised
title survive such edits (a changed word touches only the few shingles around it); MinHash estimates the Jaccard
similarity of two shingle sets from 64 values, and LSH banding (16 bands of 4 values) finds candidates with one
key lookup per band instead of a comparison against every recent story. Seeds are fixed, so every process and
every replay computes the same signature for the same title.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib

import numpy as np

NUM_VALUES = 64
BANDS = 16
ROWS = NUM_VALUES // BANDS
SHINGLE_CHARS = 4
MIN_WORDS = 3  # shorter titles ("Markets", "Update") say too little to call anything a duplicate of them
_rng = np.random.default_rng(0x6265617277617463)
# Multiply-shift hashing (Dietzfelbinger): 64-bit odd multipliers, products wrap mod 2**64, keep the top 32 bits.
_MUL = _rng.integers(0, 2**64 - 1, NUM_VALUES, dtype=np.uint64, endpoint=True) | np.uint64(1)
_ADD = _rng.integers(0, 2**64 - 1, NUM_VALUES, dtype=np.uint64, endpoint=True)
_WIRE_PREFIX = re.compile(
    r"^(?:(?:update|updated|exclusive|breaking|brief|corrected|refile|analysis|factbox|instant view)\s*\d*\s*[-:]\s*)+",
    re.IGNORECASE,
)
_SOURCE_SUFFIX = re.compile(r"\s+[-|–—]\s+[^-|–—]{1,40}$")
_NON_WORD = re.compile(r"[^\w%$]+")


def normalise_title(title: str) -> str:
    """Lower-case words of the headline without wire prefixes ("UPDATE 2-") or a trailing " - Source"."""
    text = unicodedata.normalize("NFKC", title).strip()
    text = _WIRE_PREFIX.sub("", text)
    suffix = _SOURCE_SUFFIX.search(text)
    if suffix and len(suffix.group(0).split()) <= 5 and len(text) - len(suffix.group(0)) >= 20:
        text = text[: suffix.start()]
    text = text.lower().replace(" pct", "%").replace(" percent", "%")
    return " ".join(_NON_WORD.sub(" ", text).split())


def shingles(title: str) -> set[str]:
    text = normalise_title(title)
    if len(text) <= SHINGLE_CHARS:
        return {text} if text else set()
    return {text[i: i + SHINGLE_CHARS] for i in range(len(text) - SHINGLE_CHARS + 1)}


def comparable(title: str) -> bool:
    return len(normalise_title(title).split()) >= MIN_WORDS


def signature(title: str) -> np.ndarray:
    """64 MinHash values (uint32) of the title's shingles."""
    parts = shingles(title) or {""}
    base = np.fromiter((zlib.crc32(part.encode("utf-8")) for part in parts), dtype=np.uint64, count=len(parts))
    hashed = (base[:, None] * _MUL[None, :] + _ADD[None, :]) >> np.uint64(32)
    return hashed.min(axis=0).astype(np.uint32)


def signature_hex(values: np.ndarray) -> str:
    return values.astype(">u4").tobytes().hex()


def band_hashes(values: np.ndarray) -> list[str]:
    """One short hash per LSH band; two titles sharing any band hash are near-duplicate candidates."""
    raw = values.astype(">u4").tobytes()
    width = ROWS * 4
    return [hashlib.blake2b(raw[i * width: (i + 1) * width], digest_size=8).hexdigest() for i in range(BANDS)]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two titles' shingle sets."""
    return float(np.count_nonzero(a == b)) / NUM_VALUES
