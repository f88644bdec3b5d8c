"""Regenerate (or --check) the JSON Schema files in docs/schema/ from the document models.

    python scripts/schemas.py          # rewrite docs/schema/<command>-v1.json
    python scripts/schemas.py --check  # exit 1 naming each stale file

One file per command that prints a JSON document (estimate, train, fit, inspect, models, gpus, dtypes);
tests compare each file with the schema the code generates.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"


def schemas() -> dict[str, Callable[[], dict[str, object]]]:
    """Each command's schema generator, by command name."""
    from vram.report import document, fit, inspect, listing, training

    out: dict[str, Callable[[], dict[str, object]]] = {
        "estimate": document.json_schema,
        "train": training.json_schema,
        "fit": fit.json_schema,
        "inspect": inspect.json_schema,
    }
    out.update({command: partial(listing.json_schema, command) for command in listing.SCHEMAS})
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for command, make in schemas().items():
        path = SCHEMA_DIR / f"{command}-v1.json"
        text = json.dumps(make(), indent=2) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale schema files (run python scripts/schemas.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
