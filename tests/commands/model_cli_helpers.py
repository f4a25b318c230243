"""Helpers of the command tests (a module name of its own: ``from conftest import`` would
depend on which of the suite's conftest files Python imported first)."""

from __future__ import annotations

from hybridgrad.cli import main

# A few hundred images: every command's code path in about a second.
SMALL = ["--quick", "--no-progress", "--set", "train_subset=128", "--set", "test_subset=64"]


def run_cli(*argv) -> int:
    return main([str(arg) for arg in argv])
