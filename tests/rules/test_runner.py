"""The engine's process pool: a worker that dies never hangs the run, nor loses a file."""

from __future__ import annotations

import os

from jaxlint.rules._runner import Runner

PARENT = os.getpid()


def _doubled_or_die(batch: list[int]) -> list[int]:
    if os.getpid() != PARENT:
        os._exit(3)  # a worker killed mid-task (out of memory, a signal)
    return [2 * item for item in batch]


def _doubled(batch: list[int]) -> list[int]:
    return [2 * item for item in batch]


def test_parallel_map_returns_every_result():
    runner = Runner(2)
    try:
        items = list(range(40))
        assert sorted(runner.map(_doubled, items, [10**6] * len(items))) == [2 * i for i in items]
    finally:
        runner.close()


def test_dead_workers_fall_back_to_this_process():
    runner = Runner(2)
    try:
        items = list(range(40))
        assert sorted(runner.map(_doubled_or_die, items, [10**6] * len(items))) == [2 * i for i in items]
    finally:
        runner.close()
