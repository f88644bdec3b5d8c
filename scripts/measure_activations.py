"""Measure the activation peak of one prefill forward in transformers (dev-only oracle).

Builds small models with real layouts (random weights, CPU), runs one inference forward the
way ``generate`` starts a prefill (``torch.no_grad``, SDPA attention, ``logits_to_keep=1``, then
the fp32 copy of the last logits that ``generate`` samples from), and records the peak of the
bytes held by tensors allocated during that forward, from the allocation events of
``torch.profiler`` (``profile_memory=True``). The weights and the input ids exist before the
forward starts, so the peak is the transient above them. ``use_cache=False``: the KV cache is
its own component of the estimate.

Needs torch and transformers, which are never dependencies of vram:

    python scripts/measure_activations.py > tests/core/data/activation_peaks.json
"""

from __future__ import annotations

import gc
import json
import sys
from typing import Any

import torch
import transformers
from torch.profiler import ProfilerActivity, profile
from transformers import AutoConfig, AutoModelForCausalLM

# Each case: a config with a real model's layout at a small size, and what to run it with.
LLAMA = {  # Llama-3 shape: GQA (4 query heads per KV head), SwiGLU
    "model_type": "llama",
    "hidden_size": 1024,
    "intermediate_size": 3584,
    "num_hidden_layers": 2,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}
QWEN3 = {  # Qwen3-0.6B widths: q width (16 x 128) above the hidden size, per-head q/k RMSNorm
    "model_type": "qwen3",
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 2,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
}
QWEN3_WIDE_Q = {  # Qwen3 layout with 32 query heads over a narrow MLP, so attention is the widest step
    **QWEN3,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "intermediate_size": 1024,
}
MIXTRAL = {  # Mixtral layout: 8 experts, top-2, GQA
    "model_type": "mixtral",
    "hidden_size": 1024,
    "intermediate_size": 3584,
    "num_hidden_layers": 2,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
}
QWEN3_MOE = {  # Qwen3-30B-A3B layout scaled down: 32 narrow experts, top-8
    "model_type": "qwen3_moe",
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "moe_intermediate_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "head_dim": 64,
    "num_experts": 32,
    "num_experts_per_tok": 8,
    "vocab_size": 32000,
}
GPT2 = {  # GPT-2 small widths: fused c_attn, 4h MLP with gelu_new, learned positions
    "model_type": "gpt2",
    "n_embd": 768,
    "n_layer": 2,
    "n_head": 12,
    "n_positions": 1024,
    "vocab_size": 50257,
}
GEMMA3 = {  # Gemma-3-1B widths: sliding and full layers, GeGLU, per-head q/k RMSNorm, 256-wide heads
    "model_type": "gemma3_text",
    "hidden_size": 1152,
    "intermediate_size": 6912,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "sliding_window": 256,
    "layer_types": ["sliding_attention", "full_attention"],
    "vocab_size": 32000,
}
DEEPSEEK_V3 = {  # DeepSeek-V3 layout scaled down: MLA, one dense layer then MoE with a shared expert.
    # v_head_dim equals the q/k head width here: CPU SDPA has no fused kernel for a narrower value
    # head and falls back to the math kernel (s x s scores), which CUDA's memory-efficient kernel
    # does not need; the real model's 128-wide values under 192-wide q/k would measure that fallback.
    "model_type": "deepseek_v3",
    "hidden_size": 1024,
    "intermediate_size": 2816,
    "moe_intermediate_size": 512,
    "num_hidden_layers": 3,
    "first_k_dense_replace": 1,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "q_lora_rank": 384,
    "kv_lora_rank": 128,
    "qk_nope_head_dim": 64,
    "qk_rope_head_dim": 32,
    "v_head_dim": 96,
    "n_routed_experts": 16,
    "n_shared_experts": 1,
    "num_experts_per_tok": 4,
    "n_group": 4,
    "topk_group": 2,
    "vocab_size": 32000,
}

DEEPSEEK_V2_LITE = {  # DeepSeek-V2-Lite's attention (no q LoRA) with many heads, so attention is the widest step
    **DEEPSEEK_V3,
    "q_lora_rank": None,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "first_k_dense_replace": 0,
    "num_hidden_layers": 2,
    "moe_intermediate_size": 256,
    "n_routed_experts": 8,
    "num_experts_per_tok": 2,
    "n_group": 1,
    "topk_group": 1,
}
DEEPSEEK_SHARED = {  # a wide shared expert beside one routed expert per token: the shared step is widest
    **DEEPSEEK_V3,
    "first_k_dense_replace": 0,
    "num_hidden_layers": 2,
    "moe_intermediate_size": 256,
    "n_shared_experts": 16,
    "n_routed_experts": 4,
    "num_experts_per_tok": 1,
    "n_group": 1,
    "topk_group": 1,
}

CASES: list[tuple[dict[str, Any], int, int, str, str]] = [
    # (config, batch, seq_len, dtype, logits)
    (LLAMA, 2, 512, "fp32", "last"),
    (LLAMA, 2, 512, "bf16", "last"),
    (LLAMA, 1, 256, "fp32", "all"),
    (QWEN3, 2, 512, "fp32", "last"),
    (QWEN3_WIDE_Q, 2, 512, "fp32", "last"),
    (MIXTRAL, 2, 512, "fp32", "last"),
    (QWEN3_MOE, 2, 512, "fp32", "last"),
    (QWEN3_MOE, 2, 512, "bf16", "last"),
    (GPT2, 2, 512, "fp32", "last"),
    (GEMMA3, 2, 512, "fp32", "last"),
    (DEEPSEEK_V3, 2, 512, "fp32", "last"),
    (DEEPSEEK_V2_LITE, 2, 512, "fp32", "last"),
    (DEEPSEEK_SHARED, 2, 512, "fp32", "last"),
]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def peak_bytes(run: Any) -> int:
    """Peak of the bytes allocated and not yet freed while ``run()`` executes."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak


def measure(config: dict[str, Any], batch: int, seq_len: int, dtype: str, logits: str) -> dict[str, Any]:
    """One case: build the model, run the prefill, return the figures."""
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    cfg = AutoConfig.for_model(config["model_type"], **kwargs)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", dtype=DTYPES[dtype]).eval()
    ids = torch.randint(0, cfg.vocab_size, (batch, seq_len))
    keep = 1 if logits == "last" else 0  # generate() passes logits_to_keep=1; 0 keeps every position

    def run() -> None:
        with torch.no_grad():
            out = model(input_ids=ids, use_cache=False, logits_to_keep=keep)
            # generate(): next_token_logits = outputs.logits[:, -1, :].to(copy=True, dtype=torch.float32)
            scores = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
            del out, scores

    run()  # warm-up: lazily built buffers (rotary inv_freq, kernels' workspaces) are not activations
    gc.collect()
    peak = peak_bytes(run)
    return {
        "config": config,
        "batch": batch,
        "seq_len": seq_len,
        "dtype": dtype,
        "logits": logits,
        "parameters": sum(p.numel() for p in model.parameters()),
        "architecture": type(model).__name__,
        "peak_bytes": peak,
    }


def main() -> None:
    """Measure every case and print the JSON document."""
    torch.set_num_threads(1)
    cases = []
    for case in CASES:
        c = measure(*case)
        tokens = c["batch"] * c["seq_len"]
        print(
            f"{c['architecture']:24} {c['dtype']} {c['logits']}: {c['peak_bytes'] / tokens:,.1f} B/token",
            file=sys.stderr,
        )
        cases.append(c)
    doc = {
        "measured_with": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": "cpu",
            "attn_implementation": "sdpa",
            "method": "torch.profiler profile_memory: peak of live bytes allocated during one no_grad prefill",
        },
        "cases": cases,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
