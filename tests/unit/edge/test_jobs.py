"""The sensor thread's job queue: order, results, errors, and the time budget per pass."""

from __future__ import annotations

import threading
import time

import pytest

from edge.jobs import JobQueue


def test_jobs_run_in_order_on_the_calling_thread_with_their_results() -> None:
    jobs = JobQueue()
    seen: list[tuple[int, str]] = []
    futures = [
        jobs.submit(lambda i=i: seen.append((i, threading.current_thread().name)) or i)
        for i in range(3)
    ]
    assert jobs.pending()
    assert jobs.run_pending() == 3
    assert [f.result(0) for f in futures] == [0, 1, 2]
    assert [i for i, _ in seen] == [0, 1, 2]
    assert {name for _, name in seen} == {threading.current_thread().name}
    assert not jobs.pending()


def test_a_failing_job_fails_its_future_and_the_next_one_still_runs() -> None:
    jobs = JobQueue()

    def boom() -> int:
        raise ValueError("module unplugged")

    bad, good = jobs.submit(boom), jobs.submit(lambda: 7)
    assert jobs.run_pending() == 2
    with pytest.raises(ValueError, match="unplugged"):
        bad.result(0)
    assert good.result(0) == 7


def test_the_budget_stops_a_pass_early_but_always_runs_one_job() -> None:
    jobs = JobQueue()
    for _ in range(10):
        jobs.submit(lambda: time.sleep(0.03))
    assert jobs.run_pending(budget_s=0.0) == 1  # a pass always makes progress
    ran = jobs.run_pending(budget_s=0.05)
    assert 1 <= ran < 9  # stopped long before the queue was empty
    assert jobs.pending()
    rest = 0
    while jobs.pending():
        rest += jobs.run_pending(budget_s=0.05)
    assert 1 + ran + rest == 10


def test_a_cancelled_job_is_skipped() -> None:
    jobs = JobQueue()
    calls: list[int] = []
    first = jobs.submit(lambda: calls.append(1))
    assert first.cancel()
    jobs.submit(lambda: calls.append(2))
    jobs.run_pending()
    assert calls == [2]
