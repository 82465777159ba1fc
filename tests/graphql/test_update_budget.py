"""A principal's budget of calls a minute for its subscription updates (`CallBudget`):
a quiet principal may spend a minute's worth at once, then as fast as it fills;
one principal's spending never touches another's."""

from __future__ import annotations

import pytest

from gateway.graphql.update_reads import CallBudget


class Clock:
    """A clock the test moves: the budget's arithmetic, not the machine's pace."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_principal_spends_a_minutes_worth_then_waits_for_it_to_fill() -> None:
    clock = Clock()
    budget = CallBudget(60, clock)  # one call a second
    assert all(budget.take("principal a", 6) is None for _ in range(10))
    wait = budget.take("principal a", 3)
    assert wait == pytest.approx(3.0)
    clock.now += 2.0
    assert budget.take("principal a", 3) == pytest.approx(1.0)  # nothing spent meanwhile
    clock.now += 1.0
    assert budget.take("principal a", 3) is None


def test_one_principals_spending_leaves_anothers_budget_whole() -> None:
    budget = CallBudget(10, Clock())
    assert budget.take("principal a", 10) is None
    assert budget.take("principal a", 1) is not None
    assert budget.take("principal b", 10) is None


def test_a_budget_never_holds_more_than_a_minutes_worth() -> None:
    clock = Clock()
    budget = CallBudget(10, clock)
    assert budget.take("principal a", 1) is None
    clock.now += 3600
    assert budget.take("principal a", 10) is None
    assert budget.take("principal a", 1) is not None


def test_no_budget_and_free_updates_never_wait() -> None:
    assert CallBudget(0, Clock()).take("principal a", 10**6) is None
    spent = CallBudget(1, Clock())
    assert spent.take("principal a", 1) is None
    assert spent.take("principal a", 0) is None
