"""The `acd` console script. Each area registers its own verbs; imports stay lazy so
`acd erlang` does not pay for aiohttp and `acd asterisk` works before the rest is set up."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: verb → module with `register(subparsers)`; the module adds the verb and sets `func`.
VERB_MODULES = (
    "acd.serve",
    "acd.asterisk.cli",
    "acd.staffing.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acd", description="An event-driven ACD for Asterisk.")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
