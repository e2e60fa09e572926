"""The figures of the attack replay (issue 15): per attack class, how many times it was tried, how many of those
the system refused or held as designed, and how much was lost or doubled. Counted by the tests from database rows
and localstripe's state; printed as a Markdown table at the end of the run and written to a file."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Tally:
    item: int  # the item number
    attack: str
    tried: int
    refused: int
    lost: list[str] = field(default_factory=list)  # what should exist and does not, one line each
    doubled: list[str] = field(default_factory=list)  # what was taken, given or written twice, one line each

    def check(self) -> None:
        """Every try refused or held, nothing lost, nothing doubled; else fail naming what went wrong."""
        if (self.refused, self.lost, self.doubled) != (self.tried, [], []):
            pytest.fail(f"{self.attack}: tried {self.tried}, refused {self.refused}\n"
                        f"lost: {self.lost}\ndoubled: {self.doubled}")


class AttackTable:
    """Session-wide: each test records its class once; the table is in the order of the issue's items."""

    def __init__(self) -> None:
        self.rows: list[Tally] = []

    def record(self, item: int, attack: str, *, tried: int, refused: int, lost: list[str],
               doubled: list[str]) -> Tally:
        tally = Tally(item, attack, tried, refused, lost, doubled)
        self.rows.append(tally)
        return tally

    def render(self) -> str:
        lines = ["| item | attack | tried | refused | lost | doubled |", "|---:|---|---:|---:|---:|---:|"]
        lines += [f"| {t.item} | {t.attack} | {t.tried} | {t.refused} | {len(t.lost)} | {len(t.doubled)} |"
                  for t in sorted(self.rows, key=lambda t: t.item)]
        return "\n".join(lines)

    def report(self, config: pytest.Config, path: Path) -> None:
        """Write the table to `path` and to the terminal (outside pytest's output capture)."""
        if not self.rows:
            return
        text = self.render()
        path.write_text(text + "\n")
        if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller prints it (tests/conftest.py)
            config.workeroutput["end_of_run_report"] = "\n".join(
                ["Attack replay (issue 15): tried / refused / lost / doubled", text, f"(written to {path})"])
            return
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            writer = config.get_terminal_writer()
            writer.line()
            writer.line("Attack replay (issue 15): tried / refused / lost / doubled")
            writer.line(text)
            writer.line(f"(written to {path})")
