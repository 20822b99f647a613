"""The README keeps up with the command lines: every subcommand of every tool is mentioned."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from central.cli import _parser as central_parser
from edge.cli import _parser as edge_parser
from edge.sensor.sim.cli import _parser as sim_parser
from edge.sensortool import _parser as sensor_parser

README = (Path(__file__).parent.parent / "README.md").read_text()


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


@pytest.mark.parametrize(
    ("tool", "parser"),
    [
        ("hadir-edge", edge_parser()),
        ("hadir-central", central_parser()),
        ("hadir-sim", sim_parser()),
        ("hadir-sensor", sensor_parser()),
    ],
)
def test_docs_readme_mentions_every_subcommand(tool: str, parser: argparse.ArgumentParser) -> None:
    # "hadir-central --config central.toml unit add" counts as mentioning "unit".
    missing = [
        cmd
        for cmd in subcommands(parser)
        if not re.search(rf"{tool}(?: --?\S+(?: [^\s-]\S*)?)* {re.escape(cmd)}\b", README)
    ]
    assert missing == [], f"README does not mention {tool} {missing}"


@pytest.mark.parametrize("parser", [edge_parser(), central_parser(), sim_parser(), sensor_parser()])
def test_docs_every_subcommand_has_an_example(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                assert sub.epilog and "Example:" in sub.epilog, name
