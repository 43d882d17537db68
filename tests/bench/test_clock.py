"""Timing in turns: the order of the runs, the warm run left out, and each one's best run kept, on a scripted
clock (no real time is measured)."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest

from crossverify.bench import _clock
from crossverify.bench._clock import Sample, SetUp, interleaved


class Clock:
    """Wall and CPU seconds that move only when a scripted run says so."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def perf_counter(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(_clock, "time", clock)
    return clock


@pytest.fixture
def log() -> list[str]:
    """What ran, in order."""
    return []


def scripted(name: str, costs: list[tuple[float, float]], clock: Clock, log: list[str]) -> Callable[[], str]:
    """A run called ``name`` that costs the next (wall, CPU) seconds of ``costs`` and returns which call it was."""
    left = iter(costs)

    def run() -> str:
        log.append(name)
        wall, cpu = next(left)
        clock.wall += wall
        clock.cpu += cpu
        return f"{name} #{log.count(name)}"

    return run


def test_runs_take_turns_after_one_warm_run_each_every_round_starting_one_further(clock: Clock,
                                                                                  log: list[str]) -> None:
    runs = [scripted(name, [(1, 1)] * 4, clock, log) for name in "abc"]
    interleaved(runs, rounds=3)
    assert log == [*"abc", *"abc", *"bca", *"cab"]


def test_each_keeps_its_run_of_least_cpu_with_that_runs_wall_and_result_and_the_warm_run_never_counts(
        clock: Clock, log: list[str]) -> None:
    # The warm runs are the cheapest of all: counted, they would win.
    path = scripted("path", [(0.01, 0.01), (5, 5), (9, 3), (2, 4)], clock, log)
    floor = scripted("floor", [(0.01, 0.01), (2, 2), (1, 1.5), (3, 1)], clock, log)
    (path_best, path_out), (floor_best, floor_out) = interleaved([path, floor], rounds=3)
    assert path_best == Sample(wall=9, cpu=3) and path_out == "path #3"  # not the least wall: the least CPU
    assert floor_best == Sample(wall=3, cpu=1) and floor_out == "floor #4"


def test_set_up_runs_before_each_run_untimed_and_hands_the_run_what_it_prepared(clock: Clock,
                                                                                 log: list[str]) -> None:
    prepared = iter(range(10))

    def prepare() -> int:
        log.append("prepare")
        clock.wall += 100  # a fresh index, presentations to check: never in the figure
        clock.cpu += 100
        return next(prepared)

    def run(ready: int) -> int:
        log.append("run")
        clock.wall += 2 + ready
        clock.cpu += 1 + ready
        return ready

    (best, out), = interleaved([SetUp(prepare, run)], rounds=2)
    assert log == ["prepare", "run"] * 3
    assert (best, out) == (Sample(wall=3, cpu=2), 1)


def test_paused_times_each_run_with_the_cyclic_collector_off_and_turns_it_back_on(clock: Clock,
                                                                                  log: list[str]) -> None:
    def run() -> None:
        log.append("collecting" if gc.isenabled() else "paused")

    assert gc.isenabled()
    interleaved([run], rounds=2, paused=True)
    assert log == ["paused"] * 3 and gc.isenabled()
    log.clear()
    interleaved([run], rounds=2)
    assert log == ["collecting"] * 3
