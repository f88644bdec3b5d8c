"""Measure one training step of transformers models on CPU (dev-only oracle).

Two parts, both on small models with real layouts (random weights):

- ``activations``: one forward with labels (transformers' ``ForCausalLMLoss``), the logits dropped as
  HF Trainer and torchtune drop them, then backward. Recorded: the bytes autograd saves for backward
  per decoder layer and for the head and loss (``saved_tensors_hooks``, each storage counted once, in
  the region that saved it first; parameters and the weight-shaped casts of parameters counted apart),
  and from the allocation events of ``torch.profiler``: the bytes still alive when forward returns
  (the saved set, whatever saved it, checkpointed inputs included), the forward peak above them, and
  the backward peak above them (gradients preallocated, so only transients show).
- ``states``: one real ``optimizer.step()``: bytes of the parameters, the gradients and the optimizer
  state tensors, per optimizer and precision; and the same for real-size configs under torch's
  ``FakeTensorMode`` (shapes and dtypes without memory).

Needs torch, transformers and peft, which are never dependencies of vram:

    python scripts/measure_training.py > tests/core/data/training_oracle.json
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import peft
import torch
import transformers
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch.profiler import ProfilerActivity, profile
from transformers import AutoConfig, AutoModelForCausalLM

LLAMA = {  # GQA (4 query heads per KV head), SwiGLU, RMSNorm
    "model_type": "llama",
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 4096,
}
QWEN3 = {  # q width (8 x 128) above the hidden size, per-head q/k RMSNorm
    "model_type": "qwen3",
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 128,
    "vocab_size": 4096,
    "tie_word_embeddings": True,
}
MIXTRAL = {  # 8 experts, top-2, GQA
    "model_type": "mixtral",
    "hidden_size": 512,
    "intermediate_size": 1024,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 4096,
}
GEMMA2 = {  # GeGLU, four (1 + w) RMSNorms per layer, logit soft-capping, eager attention
    "model_type": "gemma2",
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
    "sliding_window": 128,
    "vocab_size": 4096,
}
GPT2 = {  # LayerNorm, fused c_attn, 4h gelu_new MLP, dropout 0.1, learned positions
    "model_type": "gpt2",
    "n_embd": 512,
    "n_layer": 3,
    "n_head": 8,
    "n_positions": 1024,
    "vocab_size": 4096,
}

DEEPSEEK_MLA = {  # DeepSeek-V3's attention (q and kv latents) on dense layers; v as wide as q/k, since
    # CPU SDPA has no fused kernel for a narrower value head (CUDA's memory-efficient kernel has)
    "model_type": "deepseek_v3",
    "hidden_size": 512,
    "intermediate_size": 1536,
    "moe_intermediate_size": 256,
    "num_hidden_layers": 3,
    "first_k_dense_replace": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "q_lora_rank": 192,
    "kv_lora_rank": 128,
    "qk_nope_head_dim": 64,
    "qk_rope_head_dim": 32,
    "v_head_dim": 96,
    "n_routed_experts": 8,
    "num_experts_per_tok": 2,
    "n_group": 1,
    "topk_group": 1,
    "vocab_size": 4096,
}
LLAMA_SMALL_VOCAB = {**LLAMA, "vocab_size": 512}  # the head no longer dominates backward: one layer does

BATCH, SEQ = 2, 320  # 640 tokens: no activation matrix (tokens, width) has a weight's shape
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
QV = ["q_proj", "v_proj"]

# (config, precision, attention, checkpointing, lora targets or None)
ACTIVATION_CASES: list[tuple[dict[str, Any], str, str, bool, list[str] | None]] = [
    (LLAMA, "fp32", "sdpa", False, None),
    (LLAMA, "bf16", "sdpa", False, None),
    (LLAMA, "bf16-mixed", "sdpa", False, None),
    (LLAMA, "bf16", "eager", False, None),
    (LLAMA, "bf16", "sdpa", True, None),
    (LLAMA, "bf16", "sdpa", False, ALL_LINEAR),
    (LLAMA, "bf16", "sdpa", False, QV),
    (LLAMA, "bf16-mixed", "sdpa", False, ALL_LINEAR),
    (LLAMA, "bf16-mixed", "sdpa", True, ALL_LINEAR),
    (LLAMA_SMALL_VOCAB, "bf16", "eager", False, None),
    (LLAMA_SMALL_VOCAB, "bf16", "sdpa", True, None),
    (QWEN3, "bf16", "sdpa", False, None),
    (MIXTRAL, "bf16", "sdpa", False, None),
    (GEMMA2, "bf16", "eager", False, None),
    (DEEPSEEK_MLA, "bf16", "sdpa", False, None),
    (GPT2, "bf16", "eager", False, None),
    (GPT2, "fp32", "sdpa", False, None),
]
LORA_DROPOUT = 0.05
"""LitGPT's and torchtune's LoRA recipes' ``lora_dropout`` (PEFT's default is 0.0)."""
DROPOUT_CASES: list[tuple[dict[str, Any], str, str, bool, list[str] | None]] = [
    (LLAMA, "bf16", "sdpa", False, ALL_LINEAR),
    (LLAMA, "bf16-mixed", "sdpa", False, ALL_LINEAR),
]
"""Activation cases run again with ``lora_dropout=LORA_DROPOUT``."""

# (config, precision, optimizer, lora targets or None)
STATE_CASES: list[tuple[dict[str, Any], str, str, list[str] | None]] = [
    (LLAMA, "fp32", "adamw", None),
    (LLAMA, "bf16-mixed", "adamw", None),
    (LLAMA, "bf16", "adamw", None),
    (LLAMA, "fp32", "adamw-foreach", None),
    (LLAMA, "fp32", "sgd-momentum", None),
    (LLAMA, "fp32", "adafactor", None),
    (LLAMA, "bf16-mixed", "adamw", ALL_LINEAR),
    (QWEN3, "bf16-mixed", "adamw", None),
    (QWEN3, "bf16", "adamw", None),
    (MIXTRAL, "bf16-mixed", "adamw", None),
    (GEMMA2, "bf16-mixed", "adamw", None),
    (GPT2, "fp32", "adamw", None),
    (GPT2, "fp32", "adafactor", None),
]

LLAMA31_8B = {  # meta-llama/Llama-3.1-8B config.json widths
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
}
QWEN3_8B = {  # Qwen/Qwen3-8B config.json widths
    "model_type": "qwen3",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
}
MIXTRAL_8X7B = {  # mistralai/Mixtral-8x7B-v0.1 config.json widths
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
}
FAKE_CASES: list[tuple[dict[str, Any], str, str, list[str] | None]] = [  # PEFT cannot wrap fake Linears
    (LLAMA31_8B, "bf16-mixed", "adamw", None),
    (LLAMA31_8B, "bf16", "adamw", None),
    (QWEN3_8B, "bf16-mixed", "adamw", None),
    (MIXTRAL_8X7B, "bf16", "adamw", None),
]

PARAM_DTYPE = {"fp32": torch.float32, "bf16-mixed": torch.float32, "bf16": torch.bfloat16}


def build(config: dict[str, Any], precision: str, attention: str, lora: list[str] | None, dropout: float = 0.0) -> Any:
    """The model in training mode: fp32 parameters except under pure bf16; PEFT LoRA r=8 (with
    ``lora_dropout=dropout``) when asked."""
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    cfg = AutoConfig.for_model(config["model_type"], **kwargs)
    torch.manual_seed(0)
    # LoRA freezes a 16-bit base (loaded with dtype=bfloat16) under every precision but fp32.
    dtype = torch.bfloat16 if lora is not None and precision != "fp32" else PARAM_DTYPE[precision]
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attention, dtype=dtype)
    if lora is not None:
        # Pure bf16 keeps bf16 adapters (torchtune); the mixed precisions keep PEFT's fp32 adapters.
        lcfg = peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=dropout, target_modules=lora)
        model = peft.get_peft_model(model, lcfg, autocast_adapter_dtype=precision != "bf16")
    return model.train()


def _layers(model: Any) -> tuple[list[torch.nn.Module], torch.nn.Module]:
    """The decoder layers and the final norm."""
    base = model.get_base_model() if isinstance(model, peft.PeftModel) else model
    inner = base.transformer if hasattr(base, "transformer") else base.model
    if hasattr(inner, "h"):
        return list(inner.h), inner.ln_f
    return list(inner.layers), inner.norm


def _autocast(precision: str) -> Any:
    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16-mixed" else nullcontext()


def _weight_copy(t: torch.Tensor, shapes: set[tuple[int, ...]]) -> bool:
    """A 16-bit cast of a weight (autocast's, or its transpose), told apart by shape: no activation
    matrix here is (tokens, width) with a weight's shape, since tokens are none of the widths."""
    return t.is_floating_point() and t.dim() == 2 and (tuple(t.shape) in shapes or tuple(t.shape[::-1]) in shapes)


def saved_by_region(model: Any, run: Callable[[], Any]) -> dict[str, Any]:
    """Bytes saved for backward per region (embed, layer.i, head), storages de-duplicated."""
    layers, final_norm = _layers(model)
    region = ["embed"]
    handles = [m.register_forward_pre_hook(lambda _m, _a, i=i: region.__setitem__(0, f"layer.{i}")) for i, m in
               enumerate(layers)]  # fmt: skip
    handles.append(final_norm.register_forward_pre_hook(lambda _m, _a: region.__setitem__(0, "head")))
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    shapes = {tuple(p.shape) for p in model.parameters() if p.dim() >= 2}
    seen: set[int] = set()
    out: dict[str, int] = {}
    weight_copies = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal weight_copies
        st = t.untyped_storage()
        key = st.data_ptr()
        if key in params or key in seen or st.nbytes() == 0:
            return t
        seen.add(key)
        if _weight_copy(t, shapes):
            weight_copies += st.nbytes()  # autocast's bf16 copy of a weight, not an activation
        else:
            out[region[0]] = out.get(region[0], 0) + st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = run()
    for h in handles:
        h.remove()
    return {"loss": loss, "saved": out, "weight_copy_bytes": weight_copies}


def live_events(run: Callable[[], Any]) -> tuple[Any, int, int]:
    """(result, bytes alive at the end, peak of live bytes) over the allocations ``run()`` makes."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = run()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())  # fmt: skip
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return result, live, peak


def measure_activations(config: dict[str, Any], precision: str, attention: str, ckpt: bool,
                        lora: list[str] | None, dropout: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """One activation case (``lora_dropout`` recorded only when not 0)."""
    model = build(config, precision, attention, lora, dropout)
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if lora is not None:
            model.enable_input_require_grads()
    ids = torch.randint(0, model.config.vocab_size, (BATCH, SEQ))

    def forward() -> torch.Tensor:
        with _autocast(precision):
            out = model(input_ids=ids, labels=ids, use_cache=False)
        return out.loss  # the logits go with ``out``, as in Trainer.compute_loss and torchtune

    forward().backward()  # warm-up: lazy buffers, and gradients allocated once
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()  # kept allocated: backward then accumulates in place
    gc.collect()
    loss, alive, fwd_peak = live_events(forward)
    _, _, bwd_peak = live_events(loss.backward)
    del loss
    gc.collect()
    by_region = saved_by_region(model, forward)  # checkpointed layers save through their own hooks
    return {
        "config": config,
        "precision": precision,
        "attention": attention,
        "grad_checkpointing": "full" if ckpt else "none",
        "lora_targets": lora,
        "lora_rank": 8 if lora else None,
        **({"lora_dropout": dropout} if dropout else {}),
        "batch": BATCH,
        "seq_len": SEQ,
        "architecture": type(model.get_base_model() if lora else model).__name__,
        "saved_bytes_by_region": by_region["saved"],
        "weight_copy_bytes": by_region["weight_copy_bytes"],
        "alive_after_forward_bytes": alive,
        "forward_peak_bytes": fwd_peak,
        "backward_peak_above_start_bytes": bwd_peak,
    }


def _optimizer(name: str, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-4, fused=True)
    if name == "adamw-foreach":
        return torch.optim.AdamW(params, lr=1e-4, foreach=True)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=1e-4, momentum=0.9)
    if name == "adafactor":
        return torch.optim.Adafactor(params, lr=1e-4)
    raise ValueError(name)


def _nbytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the tensors, each storage once (fake tensors have no storage address: counted by id)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, FakeTensor):
            seen[id(t)] = t.numel() * t.element_size()
        else:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def measure_states(config: dict[str, Any], precision: str, optimizer: str, lora: list[str] | None) -> dict[str, Any]:
    """One optimizer step: bytes of parameters, gradients and optimizer state."""
    if config in (LLAMA31_8B, QWEN3_8B, MIXTRAL_8X7B):
        with FakeTensorMode(allow_non_fake_inputs=True):
            return _states(config, precision, optimizer, lora)
    return _states(config, precision, optimizer, lora)


def _states(config: dict[str, Any], precision: str, optimizer: str, lora: list[str] | None) -> dict[str, Any]:
    model = build(config, precision, "eager" if config is GEMMA2 else "sdpa", lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(optimizer, trainable)
    ids = torch.randint(0, model.config.vocab_size, (1, 16))
    with _autocast(precision):
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
    loss.backward()
    opt.step()
    params = list(model.parameters())
    states = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0]
    scalars = [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() == 0]
    return {
        "config": config,
        "precision": precision,
        "optimizer": optimizer,
        "lora_targets": lora,
        "lora_rank": 8 if lora else None,
        "architecture": type(model.get_base_model() if lora else model).__name__,
        "fake_tensors": isinstance(params[0], FakeTensor),
        "parameters": sum(p.numel() for p in params),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "param_bytes": _nbytes(params),
        "trainable_param_bytes": _nbytes(trainable),
        "grad_bytes": _nbytes([p.grad for p in trainable if p.grad is not None]),
        "optimizer_state_bytes": _nbytes(states),
        "optimizer_step_scalar_bytes": _nbytes(scalars),
    }


def main() -> None:
    """Measure every case and print the JSON document."""
    torch.set_num_threads(1)
    acts = []
    for case in [*ACTIVATION_CASES, *((*d, LORA_DROPOUT) for d in DROPOUT_CASES)]:
        c = measure_activations(*case)
        tokens = c["batch"] * c["seq_len"]
        layer = c["saved_bytes_by_region"].get("layer.1", 0)
        print(f"{c['architecture']:22} {c['precision']:10} {c['attention']:5} ckpt={c['grad_checkpointing']:4} "
              f"lora={bool(c['lora_targets'])}: layer.1 {layer / tokens:,.1f} B/token, alive "
              f"{c['alive_after_forward_bytes'] / tokens:,.1f} B/token", file=sys.stderr)  # fmt: skip
        print(json.dumps(c), file=sys.stderr)
        acts.append(c)
    states = []
    for scase in STATE_CASES + FAKE_CASES:
        s = measure_states(*scase)
        print(f"{s['architecture']:22} {s['precision']:10} {s['optimizer']:13}: params {s['param_bytes']:,} "
              f"grads {s['grad_bytes']:,} optimizer {s['optimizer_state_bytes']:,}", file=sys.stderr)  # fmt: skip
        states.append(s)
    doc = {
        "measured_with": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "device": "cpu",
            "method": "saved_tensors_hooks (storages de-duplicated) and torch.profiler profile_memory events",
        },
        "activations": acts,
        "states": states,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
