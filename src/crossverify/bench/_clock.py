"""Timing on a shared machine: wall time beside the CPU seconds of this process and of a node's processes, the
best of several warm runs (of a path and its floor taken in turns), and the load the machine carried meanwhile."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: A figure is the best of this many warm runs: on a shared machine one run can lose the processor to other work,
#: or to the node.
RUNS = 3
#: Rounds for figures whose runs are short (well under a second): more chances at a quiet moment, for little time.
SHORT_RUNS = 5
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds, CPU seconds of this process, CPU seconds of the node's processes (0 for the
    embedded chain, which runs in this process and so counts in ``cpu``)."""

    wall: float
    cpu: float
    node: float = 0.0

    @property
    def work(self) -> float:
        """CPU seconds of this process and of the node together: what the run cost the machine."""
        return self.cpu + self.node

    def __truediv__(self, other: Sample) -> str:
        """``self`` against ``other`` as a ratio of wall time and of CPU seconds (this process and the node)."""
        return f"{self.wall / other.wall:.2f}x wall, {self.work / other.work:.2f}x CPU"

    def seconds(self) -> str:
        """Wall seconds, and CPU seconds (with the node's, when there is a node)."""
        node = f" + {self.node:.2f} node" if self.node else ""
        return f"{self.wall:.2f} ({self.cpu:.2f}{node} CPU)"


def group_cpu(pid: int | None) -> float:
    """CPU seconds (user and system) used so far by the processes of process group ``pid`` (a node started in
    its own session), read from /proc; 0 for ``None``."""
    if pid is None:
        return 0.0
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[2]) == pid:  # fields after the name: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def supervised_cpu(supervisor: int) -> dict[int, float]:
    """CPU seconds (user and system) used so far by each running worker of ``supervisor`` (``serve --workers``):
    its children but exited ones and multiprocessing's resource tracker, read from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # after the name: state, ppid, ...
            if int(fields[1]) != supervisor or fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"resource_tracker" in f.read():
                    continue
        except OSError:  # it ended meanwhile
            continue
        found[int(entry)] = (int(fields[11]) + int(fields[12])) / _TICK
    return found


def supervised(supervisor: int) -> set[int]:
    """The running workers of ``supervisor`` (:func:`supervised_cpu`)."""
    return set(supervised_cpu(supervisor))


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system, all its threads) used so far by process ``pid``, read from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def sample(fn: Callable[[], Any], node: int | None = None) -> tuple[Sample, Any]:
    """One run of ``fn``: its :class:`Sample` (``node``: the process group of a node it talks to) and result."""
    node_start, cpu_start, start = group_cpu(node), time.process_time(), time.perf_counter()
    out = fn()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Sample(wall, cpu, group_cpu(node) - node_start), out


def best(fn: Callable[[], Any], node: int | None = None, runs: int = RUNS) -> tuple[Sample, Any]:
    """The best of ``runs`` warm runs (after one untimed run): the least wall time and the least CPU seconds,
    each taken over the runs, and the last run's result."""
    fn()
    samples = [sample(fn, node) for _ in range(runs)]
    out = samples[-1][1]
    return Sample(min(s.wall for s, _ in samples), min(s.cpu for s, _ in samples),
                  min(s.node for s, _ in samples)), out


@dataclass(frozen=True)
class SetUp:
    """A run with an untimed set-up: ``prepare()`` before each run (the warm one too), then ``run`` timed on what
    it returned (say, a fresh index, or presentations answering challenges not yet consumed)."""

    prepare: Callable[[], Any]
    run: Callable[[Any], Any]


def interleaved(runs: Sequence[Callable[[], Any] | SetUp], rounds: int = RUNS, node: int | None = None,
                paused: bool = False) -> list[tuple[Sample, Any]]:
    """Each of ``runs`` (a path, its floor, the floor's parts) timed in turns: one untimed warm run of each, then
    ``rounds`` rounds that run each once, every round starting one further along, so that a burst of other work
    on the machine falls on both sides of a ratio alike. ``paused``: every timed run with Python's cyclic
    collector paused, for paths that pause it themselves (``verify_many``): their floors then run as they do,
    not paying for collector passes the path never makes. For each, in the order given, its best sample (the
    least CPU seconds, this process's and ``node``'s together: what ratios divide; its wall time beside) and
    that run's result."""
    def timed(fn: Callable[[], Any]) -> tuple[Sample, Any]:
        enabled = paused and gc.isenabled()
        if enabled:
            gc.disable()
        try:
            return sample(fn, node)
        finally:
            if enabled:
                gc.enable()

    def once(entry: Callable[[], Any] | SetUp) -> tuple[Sample, Any]:
        if isinstance(entry, SetUp):
            prepared = entry.prepare()
            return timed(lambda: entry.run(prepared))
        return timed(entry)

    for entry in runs:
        once(entry)
    kept = [once(entry) for entry in runs]
    for r in range(1, rounds):
        for i in range(len(runs)):
            turn = (r + i) % len(runs)
            taken = once(runs[turn])
            if taken[0].work < kept[turn][0].work:
                kept[turn] = taken
    return kept


def in_turns(rounds: int, paused: bool = False) -> str:
    """How :func:`interleaved` times, in a section's words."""
    return (f"Paths, floors and baselines are timed in turns: one untimed run of each, then {rounds} rounds of one "
            "run of each, each round starting one further along, so that other work on the shared machine weighs "
            "on both sides of a ratio alike. Each figure is its run with the least CPU seconds (the steadier "
            "measure), its wall time beside; ratios are given for both."
            + (" Every run has Python's cyclic garbage collector paused, as the checks pause it themselves: a floor "
               "pays for no collector pass the path never makes." if paused else ""))


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy so far (every process's, all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes) and cores, for the record beside a measurement."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"
