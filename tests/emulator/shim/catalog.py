#!/usr/bin/env python3
"""Writes the fidelity patch table of tests/emulator/README.md from the patch registry.

Usage: python tests/emulator/shim/catalog.py [--check]

The table lies between the lines <!-- patches:begin --> and <!-- patches:end --> under
"Fidelity patches"; one row per patch registered with @patch (shim/registry.py) in
shim/patches/*.py, in the registry's order. Without arguments the README is rewritten;
--check rewrites nothing and exits 1, printing a diff, when the README differs from the
registry (tests/suite/docs.rs runs it). Imports the patch modules only: no moto, nothing started.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

EMULATOR = Path(__file__).resolve().parent.parent
# Import the package as `shim` from tests/emulator/, not this directory's modules as top-level
# ones (sys.path[0] is the script's directory).
sys.path[0] = str(EMULATOR)

from shim import registry  # noqa: E402

README = EMULATOR / "README.md"
BEGIN, END = "<!-- patches:begin -->", "<!-- patches:end -->"
HEADER = ["| Tag | moto 5.2.5 behaviour | Patched to (real AWS) |", "|---|---|---|"]


def table() -> str:
    """The table as the registry has it, and the blank line that ends it before END."""
    rows = [f"| {p.id} | {p.moto_does} | {p.emulator_does} |" for p in registry.load()]
    return "\n".join(HEADER + rows) + "\n\n"


def render(text: str) -> str:
    """`text` with the lines between BEGIN and END replaced by table()."""
    lines = text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise SystemExit(f"{README}: expected one {BEGIN} line, then one {END} line")
    return "".join(lines[:begins[0] + 1]) + table() + "".join(lines[ends[0]:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 and print a diff if the README's table is not the registry's")
    args = ap.parse_args()
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    rel = README.relative_to(EMULATOR.parent.parent)
    if args.check:
        if current == wanted:
            print(f"{rel}: the patch table is the registry ({len(registry.load())} patches)")
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True),
            f"{rel} (as it is)", f"{rel} (from the registry)"))
        print(f"\n{rel}: the patch table differs from the registry (shim/patches/*.py); "
              "run: .venv/bin/python tests/emulator/shim/catalog.py")
        return 1
    if current == wanted:
        print(f"{rel}: unchanged")
    else:
        README.write_text(wanted, encoding="utf-8")
        print(f"{rel}: patch table rewritten from the registry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
