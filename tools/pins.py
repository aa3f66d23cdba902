"""Which installed packages differ from the course's pins: what `make test-latest` prints before and after its tests.

The pins are `constraints.txt` (exact versions, installed by `make setup`) and torch's `TORCH_SPEC` in the
Makefile. `python -m tools.pins` lists every pinned package with the version installed in the running environment
and marks those that differ; with `--markdown`, the same as a table. It only reports: the exit status is 0.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s#;]+)")
_TORCH_SPEC = re.compile(r"^TORCH_SPEC\s*\??=\s*torch==(\S+)", re.M)


def pinned(root: Path = ROOT) -> dict[str, str]:
    """{package: pinned version}: torch from the Makefile's TORCH_SPEC, then every `name==version` of
    constraints.txt."""
    pins = {}
    torch = _TORCH_SPEC.search((root / "Makefile").read_text(encoding="utf-8"))
    if torch:
        pins["torch"] = torch[1]
    for line in (root / "constraints.txt").read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[match[1]] = match[2]
    return pins


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _same(pin: str, installed: str | None) -> bool:
    """2.13.0 and 2.13.0+cpu are the same release (a local build label is not a version change)."""
    return installed is not None and installed.split("+", 1)[0] == pin.split("+", 1)[0]


def differences(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(package, pinned, installed) for every installed pinned package whose version differs from its pin."""
    rows = [(name, pin, _installed(name)) for name, pin in pinned(root).items()]
    return [(name, pin, found) for name, pin, found in rows if found is not None and not _same(pin, found)]


def report(root: Path = ROOT, markdown: bool = False) -> str:
    pins = pinned(root)
    rows = [(name, pin, _installed(name)) for name, pin in pins.items()]
    differ = differences(root)
    absent = [name for name, _, found in rows if found is None]
    head = (f"{len(differ)} of {len(pins)} pinned packages differ from the pins in this environment "
            f"({sys.prefix}; Python {platform.python_version()})"
            + (f"; {len(absent)} not installed here (an extra this environment lacks)" if absent else ""))
    if markdown:
        lines = [head + ":", "", "| package | pinned | installed |", "|---|---|---|"]
        lines += [f"| {n} | {p} | {f'**{i}**' if (n, p, i) in differ else i or 'not installed'} |"
                  for n, p, i in rows]
        return "\n".join(lines)
    width = max(len(name) for name in pins)
    lines = [head + ":"]
    lines += [f"  {'*' if (n, p, i) in differ else ' '} {n:<{width}}  {p:<12} {i or 'not installed'}"
              for n, p, i in rows]
    lines.append("  (* differs: package, pinned version, installed version)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pins", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    print(report(markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
