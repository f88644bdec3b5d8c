"""The config mapping's own rules: defaults as data, wrappers, chunked attention, null top-k, llama.cpp arch."""

from __future__ import annotations

import json
from typing import Any

from vram.core.inference import InferenceSettings, estimate_inference
from vram.core.params import count_parameters
from vram.resolve.mapping import SUPPORTED_MODEL_TYPES, spec_from_config, trace_config
from vram.resolve.mapping.defaults import known_model_types

from ..conftest import FIXTURES


def _fixture(name: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((FIXTURES / "configs" / f"{name}.json").read_text())
    return cfg


SUB_CONFIG_TYPES = {"gemma3_text", "siglip_vision_model", "mistral", "pixtral", "llama4_text", "llama4_vision_model"}


def test_defaults_table_holds_every_supported_model_type() -> None:
    """Every model_type the mapping builds, and every sub-config it reads, has transformers' defaults."""
    assert set(SUPPORTED_MODEL_TYPES) | SUB_CONFIG_TYPES <= known_model_types()


def test_absent_key_takes_the_tabled_default_and_says_so() -> None:
    """Gemma's tie_word_embeddings default (True in GemmaConfig, transformers 5.23) applies when the key is absent."""
    cfg = {k: v for k, v in _fixture("gemma-small").items() if k != "tie_word_embeddings"}
    spec, trace = trace_config(cfg)
    assert spec.tie_word_embeddings
    assert ("tie_word_embeddings", True, "transformers default") in {(r.key, r.value, r.origin) for r in trace}


def test_mistral3_dtype_comes_from_text_config() -> None:
    """Mistral 3 keeps torch_dtype in text_config: weights are priced at 2 bytes per parameter, not fp32's 4."""
    spec = spec_from_config(_fixture("mistral3-vlm-small"))
    assert "bfloat16" == spec.torch_dtype
    total = count_parameters(spec).total
    assert 2 * total == estimate_inference(spec).component("weights").bytes


def test_llama4_chunked_layers_cache_at_most_one_chunk() -> None:
    """Llama 4 RoPE layers attend within attention_chunk_size: their KV cache stops growing at the chunk.

    Fixture: 4 layers, no_rope_layer_interval 2 (layers 0 and 2 chunked), chunk 64, 2 KV heads x 16, bf16.
    Per token and layer K+V = 2 x 2 x 16 x 2 B = 128 B; at 256 tokens: 2 full layers x 256 + 2 chunked x 64.
    """
    spec = spec_from_config(_fixture("llama4-text-interleaved"))
    assert ("sliding", "full", "sliding", "full") == spec.layer_types
    assert 64 == spec.sliding_window
    kv = estimate_inference(spec, InferenceSettings(seq_len=256)).component("kv_cache").bytes
    assert 128 * (2 * 256 + 2 * 64) == kv


def test_deepseek_v2_default_config_counts_with_a_stated_top_k() -> None:
    """transformers' default DeepseekV2Config (num_experts_per_tok null) builds; active = total, stated as such."""
    spec = spec_from_config(_fixture("deepseek-v2-transformers-default"))
    count = count_parameters(spec)
    assert count.total == count.active
    assert any("num_experts_per_tok" in a for a in spec.approximations)


def test_llama_cpp_architecture_names() -> None:
    """Mistral and Mixtral convert to llama.cpp's "llama" (the GGUF rules key on it); Falcon keeps "falcon"."""
    archs = {
        name: spec_from_config(_fixture(name)).gguf_arch for name in ("mistral-swa", "mixtral-small", "falcon-mqa")
    }
    assert {"mistral-swa": "llama", "mixtral-small": "llama", "falcon-mqa": "falcon"} == archs
