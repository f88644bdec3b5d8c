"""The transformers profile: ``load_bytes`` as ``torch.cuda.memory_allocated()`` reports it after loading.

Expected figures are counted by hand from the caching allocator's block rules
(c10/cuda/CUDACachingAllocator.cpp: 512 B rounding, ``should_split`` keeps a block whole when 1 MiB
or less of its segment would remain) and the GPT-2 tensor shapes, or are measured loads.
"""

from __future__ import annotations

import pytest

from vram.core.dtypes import get_format
from vram.core.inference import InferenceSettings, estimate_inference, weight_bytes
from vram.core.overhead import allocated_bytes
from vram.core.params import tensors
from vram.core.runtimes.transformers import load_bytes, model_buffers
from vram.core.spec import ModelSpec
from vram.core.units import MiB
from vram.resolve.reference import resolve


def _spec(model_id: str) -> ModelSpec:
    spec = resolve(model_id).spec
    assert spec is not None
    return spec


def _sizes(spec: ModelSpec, dtype: str) -> list[int]:
    sizes, _ = weight_bytes(spec, get_format(dtype), tensors(spec))
    return sizes


@pytest.mark.parametrize(
    ("size", "block"),
    [
        (100, 512),  # kMinBlockSize
        (5 * MiB, 5 * MiB),  # 20 MiB segment (kLargeBuffer), split
        (25 * MiB, 26 * MiB),  # 26 MiB segment, 1 MiB left: not split, the block is the segment
        (12 * MiB + MiB // 2, 12 * MiB + MiB // 2),  # 14 MiB segment, 1.5 MiB left: split
        (11 * MiB, 12 * MiB),  # 12 MiB segment, exactly 1 MiB left: not split
    ],
)
def test_allocated_block(size: int, block: int) -> None:
    """One request's block as memory_allocated() counts it, from a fresh segment."""
    assert allocated_bytes([size]) == block


@pytest.mark.parametrize(("dtype", "measured_gb"), [("fp32", 3.21), ("fp16", 1.60), ("int8", 0.89)])
def test_gpt2_large_measured_load_transformers_4(dtype: str, measured_gb: float) -> None:
    """The seed's gpt2-large loads (3.21 GB fp32, 1.60 GB fp16, 0.89 GB bitsandbytes int8) within 3%.

    The three figures come from transformers 4, where each of GPT-2's 36 attention blocks holds a
    1024 x 1024 bool causal mask (36 MiB in all) and the int8 load keeps unconverted tensors in
    fp16; with those buffers, the 72 fp32 MLP matrices of 25 MiB that each hold a 26 MiB block, and
    nothing else, the model gives 3.210, 1.586 and 0.880 GB.
    """
    spec = _spec("openai-community/gpt2-large")
    loaded = load_bytes(spec, _sizes(spec, dtype), transformers_major=4)
    assert abs(loaded / 1e9 - measured_gb) / measured_gb < 0.03


def test_gpt2_large_fp32_load_transformers_5_by_hand() -> None:
    """transformers 5, fp32: weights + 72 x 1 MiB (25 MiB MLP matrices in 26 MiB blocks) + the embedding's 633,856 B.

    wte is 50257 x 1280 x 4 = 257,315,840 B; its 246 MiB segment leaves 633,856 B, too little to split.
    Every other tensor is a multiple of 512 B and splits its segment. No buffers besides (no rotary).
    """
    spec = _spec("openai-community/gpt2-large")
    weights = 774_030_080 * 4
    assert load_bytes(spec, _sizes(spec, "fp32")) == weights + 72 * MiB + 633_856


def test_gpt2_large_fp16_load_is_not_overstated() -> None:
    """transformers 5, fp16: every block splits, so the load is the weights' bytes exactly (1.548 GB)."""
    spec = _spec("openai-community/gpt2-large")
    est = estimate_inference(spec, InferenceSettings(dtype="fp16"))
    assert est.runtime == "transformers"
    assert est.runtime_facts["load_bytes"] == 774_030_080 * 2 == est.component("weights").bytes


def test_rotary_buffers() -> None:
    """Llama-3.1-8B (head_dim 128) keeps inv_freq and, in transformers 5, original_inv_freq: 64 fp32 each."""
    spec = _spec("meta-llama/Llama-3.1-8B")
    assert model_buffers(spec) == [("rotary_emb.inv_freq", 256), ("rotary_emb.original_inv_freq", 256)]
    assert [b for _, b in model_buffers(spec, transformers_major=4)] == [256]
    weights = _sizes(spec, "bf16")
    assert load_bytes(spec, weights) - allocated_bytes(weights) == 2 * 512


def test_gguf_estimate_has_no_load_bytes() -> None:
    """A GGUF format is llama.cpp's, not a transformers load: no load_bytes."""
    est = estimate_inference(_spec("meta-llama/Llama-3.1-8B"), InferenceSettings(dtype="Q4_K_M"))
    assert "load_bytes" not in est.runtime_facts
