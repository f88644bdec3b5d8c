"""The decode-speed bound: bandwidth over the bytes one token reads."""

from __future__ import annotations

import pytest

from vram.core.decode import decode_bound, weight_bytes_read
from vram.core.dtypes import get_format
from vram.core.params import count_parameters
from vram.core.spec import ModelSpec
from vram.resolve.reference import resolve


def _spec(model: str) -> ModelSpec:
    spec = resolve(model, offline=True).spec
    assert spec is not None
    return spec


def test_llama2_7b_fp16_on_a_4090_by_hand() -> None:
    """Llama-2-7B fp16 at 4,096 tokens on 1,008 GB/s: 65.6 tokens/s, from the config by hand.

    Weights: 6,738,415,616 params x 2 B, less the 32,000 x 4,096 embedding table but one row of it
    (a lookup) = 13,214,695,424 B; KV: 32 layers x 2 x 4,096 x 2 B x 4,096 tokens = 2,147,483,648 B.
    1,008e9 / 15,362,179,072 = 65.62.
    """
    spec = _spec("meta-llama/Llama-2-7b-hf")
    bound = decode_bound(spec, get_format("fp16"), 2_147_483_648, 1008)
    assert bound.weight_bytes_per_token == 6_738_415_616 * 2 - 32_000 * 4_096 * 2 + 4_096 * 2
    assert bound.tokens_per_s == pytest.approx(1008e9 / 15_362_179_072)
    assert round(bound.tokens_per_s, 2) == 65.62
    assert "upper bound" in bound.assumptions


def test_moe_reads_only_the_routed_experts() -> None:
    """Qwen3-30B-A3B in bf16 reads its active parameters (params.py's count: experts x k/E), less the
    untied embedding table but one row, at 2 bytes each."""
    spec = _spec("Qwen/Qwen3-30B-A3B")
    count = count_parameters(spec)
    on_gpu, off = weight_bytes_read(spec, get_format("bf16"))
    table = spec.vocab_size * spec.hidden_size
    assert off == 0
    assert on_gpu == pytest.approx(2 * (count.active - table + spec.hidden_size), rel=1e-6)
    assert on_gpu < 2 * count.total / 5  # about 3.3 B of 30.5 B are read


def test_offloaded_layers_add_their_link_time() -> None:
    """Layers in CPU memory are read over the link: the seconds per token add, so the bound drops."""
    spec = _spec("meta-llama/Llama-2-7b-hf")
    fmt = get_format("nf4")
    gpu_only = decode_bound(spec, fmt, 0, 448)
    half = frozenset(range(16, 32))
    split = decode_bound(spec, fmt, 0, 448, offloaded_layers=half, offload_bandwidth_gb_s=32)
    expected = 1 / (split.weight_bytes_per_token / 448e9 + split.offloaded_bytes_per_token / 32e9)
    assert split.tokens_per_s == pytest.approx(expected)
    assert split.weight_bytes_per_token + split.offloaded_bytes_per_token == gpu_only.weight_bytes_per_token
    assert split.tokens_per_s < gpu_only.tokens_per_s / 5
    with pytest.raises(ValueError, match="bandwidth"):
        decode_bound(spec, fmt, 0, 448, offloaded_layers=half)
