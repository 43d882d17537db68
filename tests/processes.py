"""The worker processes of a supervisor, as the tests of ``serve --workers`` look for them in ``/proc``."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> set[int]:
    """The running children of ``pid``: neither exited (zombies) nor multiprocessing's resource tracker."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z" and b"resource_tracker" not in command:
                found.add(int(entry.name))
    return found
