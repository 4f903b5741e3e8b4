"""The worker's check for a broker log that went backwards (``monitor.stages.worker.log_reset.went_backwards``).

Every positive must be impossible on a log that was not recreated: a busy worker (read offsets close to the high
watermark, a commit at the end, right after a seek) never shows one.
"""

from __future__ import annotations

from monitor.stages.worker.log_reset import went_backwards


def test_a_live_log_never_looks_recreated() -> None:
    assert went_backwards(100, None, None, None) == []
    assert went_backwards(100, 90, 99, 100) == []  # caught up: last read 99, committed next = the end
    assert went_backwards(100, 100, 100, None) == []  # after a seek or a rebalance Faust holds the next offset
    assert went_backwards(0, None, None, None) == []  # a new, empty topic


def test_a_recreated_log_is_seen_by_each_sign() -> None:
    assert went_backwards(3, 765, None, None) == ["high watermark fell from 765 to 3"]
    assert went_backwards(40, None, 160, None) == ["read up to offset 160, log ends at 40"]
    assert went_backwards(40, None, None, 161) == ["committed offset 161, log ends at 40"]
    assert len(went_backwards(40, 700, 160, 161)) == 3
