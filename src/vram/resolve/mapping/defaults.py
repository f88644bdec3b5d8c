"""transformers' config-class defaults: what a config.json that leaves a key out gets.

The table is data (``vram/data/transformers_defaults.json``), dumped from transformers 5.23's
config classes by ``scripts/golden_params.py --defaults``; it is read once, on first use.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def _table() -> dict[str, dict[str, Any]]:
    raw: dict[str, Any] = json.loads((files("vram") / "data" / "transformers_defaults.json").read_bytes())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def defaults_for(model_type: str) -> dict[str, Any]:
    """The integer and boolean defaults of the transformers config class for ``model_type``."""
    return _table()[model_type]


def known_model_types() -> frozenset[str]:
    """Every model_type the table holds defaults for."""
    return frozenset(_table())
