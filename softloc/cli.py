"""The `softloc` command (console script): `softloc localize ...` (see softloc.localize) and
`softloc evaluate-descriptors ...` (see softloc.evaluate_descriptors)."""

from __future__ import annotations

import argparse
import logging
import sys

from softloc import evaluate_descriptors, localize


def main(argv: list[str] | None = None) -> int:
    """Parse `softloc <subcommand> ...` and run it; errors print one line and exit with status 2."""
    parser = argparse.ArgumentParser(prog="softloc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    localize.add_arguments(commands.add_parser(
        "localize", help="localize images against a built map (method, seed, test set)",
        description=localize.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    evaluate_descriptors.add_arguments(commands.add_parser(
        "evaluate-descriptors", help="measure descriptors computed by another tool on a built test set",
        description=evaluate_descriptors.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    commands_run = {"localize": localize.run, "evaluate-descriptors": evaluate_descriptors.run}
    try:
        commands_run[args.command](args)
    except (FileNotFoundError, ValueError) as err:
        print(f"softloc {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
