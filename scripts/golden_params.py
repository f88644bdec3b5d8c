"""Dev-only: count parameters with transformers on the meta device (the golden numbers).

Not a runtime or test dependency. Run it in a separate environment that has torch and
transformers (the figures in tests/core/golden_params.json came from torch 2.13.0+cpu and
transformers 5.23.0):

    python scripts/golden_params.py src/vram/data/models tests/fixtures/configs > tests/core/golden_params.json

For each config it builds the class named in ``architectures`` (else AutoModelForCausalLM)
inside ``torch.device("meta")`` (no memory, no weights) and records
``sum(p.numel() for p in model.parameters())``, which counts tied weights once.
``quantization_config`` is dropped first: the golden number is the architecture's count.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def count(config: dict) -> int:
    config = {k: v for k, v in config.items() if k != "quantization_config"}
    with tempfile.TemporaryDirectory() as d:
        Path(d, "config.json").write_text(json.dumps(config))
        cfg = AutoConfig.from_pretrained(d)
    arch = (config.get("architectures") or [None])[0]
    cls = getattr(transformers, arch, None) if arch else None
    with torch.device("meta"):
        model = cls._from_config(cfg) if cls is not None else AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def main(paths: list[str]) -> None:
    out: dict[str, dict[str, object]] = {}
    for root in paths:
        for f in sorted(Path(root).glob("*.json")):
            doc = json.loads(f.read_text())
            config = doc.get("config", doc)
            try:
                n = count(config)
            except Exception as e:
                print(f"{f}: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            out[f.stem] = {"parameters": n, "file": str(f)}
    meta = {"produced_by": f"transformers {transformers.__version__}, torch {torch.__version__}, meta device"}
    print(json.dumps({"_meta": meta, **out}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
