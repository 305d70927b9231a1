"""The `softloc` command (console script): `softloc localize ...` (see softloc.localize)."""

from __future__ import annotations

import argparse
import logging
import sys

from softloc import localize


def main(argv: list[str] | None = None) -> int:
    """Parse `softloc <subcommand> ...` and run it; errors print one line and exit with status 2."""
    parser = argparse.ArgumentParser(prog="softloc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    localize.add_arguments(commands.add_parser(
        "localize", help="localize images against a built map (method, seed, test set)",
        description=localize.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        localize.run(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"softloc {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
