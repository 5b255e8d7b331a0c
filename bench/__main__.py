"""Run every benchmark section: ``python -m bench [SECTION...]``."""

from __future__ import annotations

import importlib
import sys

# Each section is a module in bench/ with a ``run()`` that prints its own table.
SECTIONS = ["credentials", "issuance", "grading"]


def main(argv: list[str]) -> None:
    for name in argv or SECTIONS:
        if name not in SECTIONS:
            raise SystemExit(f"bench: unknown section {name!r} (known: {', '.join(SECTIONS)})")
        print(f"\n== {name} ==", flush=True)
        importlib.import_module(f"bench.{name}").run()


if __name__ == "__main__":
    main(sys.argv[1:])
