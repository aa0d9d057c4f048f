"""Falco's own verdicts on the corpora, reproduced by the engine (see tests/KNOWN_DIFFERENCES.md)."""

from __future__ import annotations

import pytest

from tests.corpus import Case, invalid_cases, known_differences, probe_cases, run_case, valid_cases

KNOWN = known_differences()
INVALID = invalid_cases()
PROBES = probe_cases()
VALID = valid_cases()


def _check(case: Case) -> None:
    got = run_case(case)
    problem = case.expected.disagreement(got)
    if problem is None and case.exact_counts and got.warnings != case.expected.warnings:
        problem = f"warning counts {dict(got.warnings)} != {dict(case.expected.warnings)}"
    if case.id in KNOWN:
        if problem is None:
            pytest.fail(f"{case.id} now agrees with Falco: remove it from KNOWN_DIFFERENCES.md")
        pytest.xfail(KNOWN[case.id])
    assert problem is None, problem


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.id)
def test_valid_corpus(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_corpus(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", PROBES, ids=lambda c: c.id)
def test_probes(case: Case) -> None:
    _check(case)


def test_agreement_rate_on_invalid_and_probes() -> None:
    """At least 95% of the invalid and probe cases agree with Falco 0.44.1 on everything compared."""
    cases = INVALID + PROBES
    agreed = sum(1 for c in cases if c.expected.disagreement(run_case(c)) is None)
    assert agreed / len(cases) >= 0.95, f"{agreed}/{len(cases)}"


def test_every_known_difference_names_a_real_case() -> None:
    ids = {c.id for c in INVALID + PROBES + VALID}
    assert set(KNOWN) <= ids, sorted(set(KNOWN) - ids)
