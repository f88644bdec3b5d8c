"""``vram inspect``: the resolved architecture, and where each value came from."""

import json
import sys
from typing import Annotated, Any

import typer

from vram.cli._options import JsonOpt, guard

# Each row: label, the spec value, and the config keys that feed it (first match in the trace wins).
_KEYS: dict[str, tuple[str, ...]] = {
    "layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "hidden size": ("hidden_size", "n_embd", "d_model"),
    "attention heads": ("num_attention_heads", "n_head"),
    "KV heads": ("num_key_value_heads", "num_kv_heads", "multi_query"),
    "head dim": ("head_dim",),
    "intermediate size": ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size"),
    "vocab size": ("vocab_size",),
    "max context": ("max_position_embeddings", "n_positions"),
    "tied embeddings": ("tie_word_embeddings",),
    "sliding window": ("sliding_window",),
    "experts": ("num_local_experts", "num_experts", "n_routed_experts"),
    "experts per token": ("num_experts_per_tok",),
    "expert intermediate size": ("moe_intermediate_size", "intermediate_size"),
    "MLA kv_lora_rank": ("kv_lora_rank",),
    "MLA q_lora_rank": ("q_lora_rank",),
    "vision tower layers": ("num_hidden_layers",),
    "MoE layers": ("first_k_dense_replace", "mlp_only_layers", "decoder_sparse_step", "moe_layer_freq"),
    "shared expert size": ("shared_expert_intermediate_size", "n_shared_experts"),
}


def _rows(spec: Any) -> list[tuple[str, Any]]:
    """(label, value) of the architecture facts that apply to this spec."""
    sliding = spec.layer_types.count("sliding")
    rows: list[tuple[str, Any]] = [
        ("layers", spec.num_layers),
        ("hidden size", spec.hidden_size),
        ("attention heads", spec.num_heads),
        ("KV heads", spec.num_kv_heads),
        ("head dim", spec.head_dim),
        ("intermediate size", spec.intermediate_size),
        ("vocab size", spec.vocab_size),
        ("max context", spec.max_position_embeddings),
        ("tied embeddings", spec.tie_word_embeddings),
        ("sliding window", f"{spec.sliding_window} on {sliding}/{spec.num_layers} layers" if sliding else None),
    ]
    if spec.moe is not None:
        rows += [
            ("experts", spec.moe.num_experts),
            ("experts per token", spec.moe.experts_per_token),
            ("expert intermediate size", spec.moe.expert_intermediate_size),
            ("MoE layers", f"{sum(spec.moe.moe_layers)}/{spec.num_layers}"),
            ("shared expert size", spec.moe.shared_intermediate_size or None),
        ]
    if spec.mla is not None:
        rows += [("MLA kv_lora_rank", spec.mla.kv_lora_rank), ("MLA q_lora_rank", spec.mla.q_lora_rank)]
    if spec.vision is not None:
        rows.append(("vision tower layers", spec.vision.num_layers))
    rows += [("torch_dtype", spec.torch_dtype), ("quantization", spec.quantization)]
    return rows


def _origin(label: str, trace: list[Any], spec: Any) -> str:
    if label == "head dim" and spec.mla is not None:
        return "qk_nope_head_dim + qk_rope_head_dim (config.json)"
    keys = _KEYS.get(label, (label.replace(" ", "_"),))
    want_vision = label.startswith("vision")
    for read in trace:
        prefix, _, key = read.key.rpartition(".")
        if key in keys and (prefix == "vision_config") == want_vision:
            return f"{read.key} ({read.origin})"
    if label == "quantization":
        return "quantization_config (config.json)"
    if label == "torch_dtype":
        return "torch_dtype / dtype (config.json)"
    return "fixed by the architecture"


def _gguf_origin(label: str, origin: str) -> str:
    """For a GGUF file the "config" is its metadata, and the quantization is its file type."""
    if label == "quantization":
        return "general.file_type (GGUF metadata)"
    return origin.replace("config.json", "GGUF metadata")


def inspect(
    model: Annotated[str, typer.Argument(help="Same references as `vram estimate`.", show_default=False)],
    revision: Annotated[str | None, typer.Option(help="Hub repos: branch, tag or commit.", show_default=False)] = None,
    token: Annotated[str | None, typer.Option(help="Hub token for gated or private repos.", show_default=False)] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never use the network.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the resolved architecture and where each value came from (config.json, a default, a rule)."""
    with guard():
        from vram.core.params import count_parameters
        from vram.resolve import resolve
        from vram.resolve.mapping import trace_config

        resolved = resolve(model, revision=revision, token=token, offline=offline)
        if resolved.spec is None or resolved.config is None:
            print("error: a parameter count has no architecture to inspect", file=sys.stderr)
            raise typer.Exit(2)
        # Values from the resolved spec (a GGUF file type or FP8 files may have set its quantization);
        # the re-traced config only says where each value came from.
        spec = resolved.spec
        _, trace = trace_config(resolved.config)
        count = count_parameters(spec)
        rows = [(label, value, _origin(label, trace, spec)) for label, value in _rows(spec) if value is not None]
        if resolved.checkpoint is not None and resolved.checkpoint.source == "gguf":
            rows = [(label, value, _gguf_origin(label, o)) for label, value, o in rows]
        warnings = [*resolved.notes, *spec.approximations]
        ckpt = resolved.checkpoint
        doc = {
            "schema_version": 1,
            "command": "inspect",
            "model": {
                "id": resolved.id,
                "source": resolved.source,
                "revision": resolved.revision,
                "location": resolved.location,
                "provenance": resolved.provenance,
                "model_type": spec.model_type,
                "architecture": spec.architecture,
                "exact": spec.exact,
            },
            "architecture": {label: {"value": value, "from": origin} for label, value, origin in rows},
            "parameters": {"total": count.total, "active": count.active, "by_role": count.by_role},
            "checkpoint": None if ckpt is None else ckpt.model_dump(mode="json", exclude={"tensor_bytes"}),
            "config_keys": [{"key": r.key, "value": r.value, "origin": r.origin} for r in trace],
            "warnings": warnings,
        }
        if json_out:
            print(json.dumps(doc, indent=2, default=str))
        else:
            from vram.report.table import print_out, simple_table
            from vram.report.units import fmt_params

            where = f"{resolved.source} @ {resolved.revision[:12]}" if resolved.revision else resolved.source
            print(f"{resolved.id}  ({where})\n{spec.architecture} · {fmt_params(count.total)} params")
            table = simple_table(["field", "value", "from"], [[label, str(v), o] for label, v, o in rows])
            print_out(table)
            if ckpt is not None:
                stored = ", ".join(f"{k} {v:,}" for k, v in ckpt.parameters_by_dtype.items())
                print(f"stored in safetensors: {stored} elements, {ckpt.total_bytes:,} bytes")
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
