"""The resilience books' window check with near-tie stories (scored twice, labelled differently): which copy
was counted must be found without trying 2**n combinations."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

from tests.support.resilience.books import _choice_groups, _explainable, expected_counts
from tests.support.windows_fixtures import scored


def _explained(have: Counter, base: Counter, groups: list) -> bool:
    for choice in itertools.product(*(range(len(g)) for g in groups)):
        want = Counter(base)
        for group, index in zip(groups, choice, strict=True):
            for key, value in group[index]:
                want[key] += value
        if all(have[k] == want.get(k, 0) for k in set(have) | set(want)):
            return True
    return False


def test_forty_interchangeable_near_ties_pool_into_one_group_and_the_counted_mix_is_found() -> None:
    pairs = [[scored(f"s{i}", timedelta(minutes=i), topic="Analyst Update"),
              scored(f"s{i}", timedelta(minutes=i), topic="Company | Product News")] for i in range(40)]
    odd = [scored("x", timedelta(0), "negative"), scored("x", timedelta(0), "neutral"),
           scored("x", timedelta(0), "positive")]
    groups = _choice_groups([*pairs, odd])
    assert sorted(len(g) for g in groups) == [3, 41]  # not 2**40 * 3 combinations
    counted = [p[1] if i < 17 else p[0] for i, p in enumerate(pairs)] + [odd[2]]  # 17 counted as the 2nd copy
    base = expected_counts([p[0] for p in pairs] + [odd[0]])
    assert _explained(expected_counts(counted), base, groups)
    assert _explainable(expected_counts(counted), base, groups)
    one_too_many = expected_counts(counted)
    one_too_many[("topic", "Analyst Update", "count")] += 1
    assert not _explained(one_too_many, base, groups)
    assert not _explainable(one_too_many, base, groups)


def test_many_near_ties_on_different_keys_are_explained_quickly() -> None:
    """Thirty stories whose copies differ in sentiment *and* topic, each on its own ticker (nothing pools):
    2**30 combinations, decided by the pruned search."""
    pairs = [[scored(f"t{i}", timedelta(minutes=i), "neutral", tickers=(f"T{i}",), topic="Analyst Update"),
              scored(f"t{i}", timedelta(minutes=i), "negative", tickers=(f"T{i}",), topic="Company | Product News")]
             for i in range(30)]
    groups = _choice_groups(pairs)
    assert len(groups) == 30
    counted = [p[i % 3 == 0] for i, p in enumerate(pairs)]
    base = expected_counts([p[0] for p in pairs])
    assert _explainable(expected_counts(counted), base, groups)
    wrong = expected_counts(counted)
    wrong[("ticker", "T4", "negative")] += 1
    wrong[("ticker", "T4", "neutral")] -= 1
    assert not _explainable(wrong, base, groups)
