"""Dev-only: count parameters with transformers on the meta device (the golden numbers).

Not a runtime or test dependency. Run it in a separate environment that has torch and
transformers (the figures in tests/core/golden_params.json came from torch 2.13.0+cpu and
transformers 5.23.0):

    python scripts/golden_params.py src/vram/data/models tests/fixtures/configs > tests/core/golden_params.json
    python scripts/golden_params.py --defaults > src/vram/data/transformers_defaults.json

For each config it builds the class named in ``architectures`` (else AutoModelForCausalLM)
inside ``torch.device("meta")`` (no memory, no weights) and records
``sum(p.numel() for p in model.parameters())``, which counts tied weights once.
``quantization_config`` is dropped first: the golden number is the architecture's count.

``--defaults`` dumps, for each model_type the mapping reads (``MODEL_TYPES``), the integer and
boolean defaults of its transformers config class: what transformers uses when config.json
leaves a key out. Fields whose class default is None are left out, so the mapping's own
derivation applies as in transformers (num_key_value_heads = num_attention_heads, head_dim =
hidden_size // num_attention_heads...).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import CONFIG_MAPPING, AutoConfig, AutoModelForCausalLM

MODEL_TYPES = (
    "bloom", "cohere", "deepseek_v2", "deepseek_v3", "falcon", "gemma", "gemma2", "gemma3", "gemma3_text",
    "gpt2", "gpt_bigcode", "gpt_neox", "gpt_oss", "granite", "llama", "llama4", "llama4_text",
    "llama4_vision_model", "mistral", "mistral3", "mixtral", "olmo2", "opt", "phi", "phi3", "pixtral", "qwen2",
    "qwen2_moe", "qwen3", "qwen3_moe", "siglip_vision_model", "stablelm", "starcoder2",
)  # fmt: skip
"""Model types of the mapping's families and of the sub-configs they read (text_config, vision_config)."""

POST_INIT = {"gemma3_text": ("_sliding_window_pattern",)}
"""Defaults a class sets in ``__post_init__`` rather than as a field (Gemma3TextConfig reads
``sliding_window_pattern`` from its kwargs, default 6): read from a default-built instance."""

PLUMBING = frozenset(
    {"output_hidden_states", "return_dict", "chunk_size_feed_forward", "is_encoder_decoder", "use_cache"}
)
"""PreTrainedConfig fields every class has that say nothing about the architecture."""


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


def defaults(model_type: str) -> dict[str, int | bool]:
    """The int and bool field defaults of the config class registered for ``model_type``."""
    cls = CONFIG_MAPPING[model_type]
    out = {
        f.name: f.default
        for f in dataclasses.fields(cls)
        if isinstance(f.default, int) and f.name not in PLUMBING and "token" not in f.name
    }
    if model_type in POST_INIT:
        instance = cls()
        out.update({k: getattr(instance, k) for k in POST_INIT[model_type]})
    return dict(sorted(out.items()))


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


def main_defaults() -> None:
    meta = {"produced_by": f"scripts/golden_params.py --defaults, transformers {transformers.__version__}"}
    table = {t: defaults(t) for t in sorted(MODEL_TYPES)}
    print(json.dumps({"_meta": meta, **table}, indent=1))


if __name__ == "__main__":
    if sys.argv[1:] == ["--defaults"]:
        main_defaults()
    else:
        main(sys.argv[1:])
