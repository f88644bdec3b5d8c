"""The JSON contract of ``vram inspect --json`` (schema_version 1): each fact and where it was read.

Origins come from the mapping's trace (``vram.resolve.mapping.Read``): every config value the
mapping used, the keys it asked for and whether the file, a transformers class default or the
mapping's own default answered. A fact is attributed to the read whose request names it (the
first asked key) and whose value is the one shown; a value the mapping computes is shown with
its formula; a value no key fed is an architecture rule. ``docs/schema/inspect-v1.json`` is
generated from these models and a test fails when they drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AliasChoices, Field

from vram.core.params import count_parameters
from vram.core.spec import ModelSpec
from vram.report.document import SCHEMA_VERSION, ToolDoc, _Doc, origin_fields
from vram.resolve.gguf_file import ABSENT
from vram.resolve.mapping import Read, trace_config
from vram.resolve.reference import Resolved, Source

Value = int | bool | str
Kind = Literal[
    "config.json",
    "transformers default",
    "derived",
    "GGUF metadata",
    "GGUF tensors",
    "checkpoint files",
    "assumed",
    "architecture rule",
]

_ORIGIN_KIND: dict[str, Kind] = {
    "config.json": "config.json",
    "transformers default": "transformers default",
    "implied": "derived",
}

_IMPLIED = {
    # What the mapping uses for an unset key: the rules of the transformers modeling code it mirrors.
    "head_dim": "hidden_size / num_attention_heads",
    "num_key_value_heads": "num_attention_heads",
    "n_inner": "4 x n_embd",
    "ffn_hidden_size": "4 x hidden_size",
}


class FactDoc(_Doc):
    """One architecture fact: its value and where it came from."""

    value: Value
    from_: str = Field(
        validation_alias=AliasChoices("from", "from_"),
        serialization_alias="from",
        description="the key(s) or rule, and the kind of source",
    )
    source: Kind = Field(
        description=(
            "config.json: the file holds it; transformers default: the file does not set the key and the "
            "transformers config class's default applies; derived: the file does not set the key and the "
            "modeling rule for an unset key applies (e.g. head_dim = hidden_size / num_attention_heads); "
            "GGUF metadata / GGUF tensors: read from a GGUF file; checkpoint files: the stored dtypes; "
            "assumed: not stored anywhere; architecture rule: fixed by the architecture"
        )
    )
    keys: list[str] = Field(
        description="config keys read for it (for a GGUF file, of the config built from its metadata); empty for a rule"
    )


class InspectModelDoc(_Doc):
    """The model inspected and where its description came from."""

    id: str
    source: Source
    revision: str | None
    location: str | None
    provenance: str | None
    model_type: str
    architecture: str
    exact: bool


class ParametersDoc(_Doc):
    """Exact parameter counts: total, active per token (MoE), and per tensor role."""

    total: int
    active: int
    by_role: dict[str, int]


class CheckpointDoc(_Doc):
    """What the checkpoint's files store (safetensors headers or a GGUF file's tensor infos)."""

    source: Literal["safetensors", "gguf"]
    files: int | None
    parameters_by_dtype: dict[str, int]
    bytes_by_dtype: dict[str, int]
    total_bytes: int


class ConfigKeyDoc(_Doc):
    """One config value the mapping read, in reading order."""

    key: str
    value: Any
    origin: Literal["config.json", "transformers default", "implied"]


class InspectDocument(_Doc):
    """Top level of ``vram inspect --json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["inspect"] = "inspect"
    tool: ToolDoc
    model: InspectModelDoc
    architecture: dict[str, FactDoc]
    parameters: ParametersDoc
    checkpoint: CheckpointDoc | None
    config_keys: list[ConfigKeyDoc]
    warnings: list[str]


Rule = Callable[[ModelSpec, set[str]], tuple[str, tuple[str, ...]] | None]


@dataclass(frozen=True)
class _Fact:
    """A row: how to read its value off the spec, and which requests of the mapping feed it."""

    label: str
    value: Callable[[ModelSpec], Value | None]
    keys: tuple[str, ...] = ()
    rule: Rule | None = None
    combined: bool = False  # the value combines several reads (listed), so no single read equals it
    vision: bool = False


def _sliding(s: ModelSpec) -> str | None:
    n = s.layer_types.count("sliding")
    return f"{s.sliding_window} on {n}/{s.num_layers} layers" if n else None


def _mla(formula: str, *keys: str) -> Rule:
    return lambda s, _read: (formula, keys) if s.mla is not None else None


_FACTS: tuple[_Fact, ...] = (
    _Fact("layers", lambda s: s.num_layers, ("num_hidden_layers", "n_layer")),
    _Fact("hidden size", lambda s: s.hidden_size, ("hidden_size", "n_embd", "d_model")),
    _Fact("attention heads", lambda s: s.num_heads, ("num_attention_heads", "n_head")),
    _Fact(
        "KV heads",
        lambda s: s.num_kv_heads,
        ("num_key_value_heads", "num_kv_heads"),
        rule=lambda s, read: (
            ("num_attention_heads, as MLA expands K/V per head", ("num_attention_heads",))
            if s.mla is not None
            else ("1 when multi_query, else num_attention_heads", ("multi_query",))
            if "multi_query" in read
            else None
        ),
    ),
    _Fact(
        "head dim",
        lambda s: s.head_dim,
        ("head_dim",),
        rule=_mla("qk_nope_head_dim + qk_rope_head_dim", "qk_nope_head_dim", "qk_rope_head_dim"),
    ),
    _Fact(
        "intermediate size",
        lambda s: s.intermediate_size,
        ("intermediate_size", "intermediate_size_mlp", "n_inner", "ffn_dim", "ffn_hidden_size"),
        rule=lambda s, _read: (
            ("none: every MLP is a mixture of experts", ())
            if s.intermediate_size == 0 and s.moe is not None and all(s.moe.moe_layers)
            else None
        ),
    ),
    _Fact("vocab size", lambda s: s.vocab_size, ("vocab_size",)),
    _Fact("max context", lambda s: s.max_position_embeddings, ("max_position_embeddings", "n_positions")),
    _Fact("tied embeddings", lambda s: s.tie_word_embeddings, ("tie_word_embeddings",)),
    _Fact(
        "sliding window",
        _sliding,
        (
            "sliding_window",
            "use_sliding_window",
            "max_window_layers",
            "sliding_window_pattern",
            "layer_types",
            "attention_chunk_size",  # Llama 4: chunked attention on the RoPE layers, bounded like a window
            "no_rope_layers",
            "no_rope_layer_interval",
        ),
        combined=True,
    ),
    _Fact(
        "experts",
        lambda s: s.moe.num_experts if s.moe else None,
        ("num_local_experts", "num_experts", "n_routed_experts"),
    ),
    _Fact("experts per token", lambda s: s.moe.experts_per_token if s.moe else None, ("num_experts_per_tok",)),
    _Fact(
        "expert intermediate size",
        lambda s: s.moe.expert_intermediate_size if s.moe else None,
        ("moe_intermediate_size", "intermediate_size"),  # Llama 4's experts are intermediate_size wide
    ),
    _Fact(
        "MoE layers",
        lambda s: f"{sum(s.moe.moe_layers)}/{s.num_layers}" if s.moe else None,
        (
            "decoder_sparse_step",
            "mlp_only_layers",
            "first_k_dense_replace",
            "moe_layer_freq",
            "moe_layers",
            "interleave_moe_layer_step",
        ),
        combined=True,
    ),
    _Fact(
        "shared expert size",
        lambda s: (s.moe.shared_intermediate_size or None) if s.moe else None,
        ("shared_expert_intermediate_size", "intermediate_size"),  # Llama 4: one expert-wide shared expert
        rule=lambda _s, read: (
            ("moe_intermediate_size x n_shared_experts", ("moe_intermediate_size", "n_shared_experts"))
            if "n_shared_experts" in read
            else None
        ),
    ),
    _Fact("MLA kv_lora_rank", lambda s: s.mla.kv_lora_rank if s.mla else None, ("kv_lora_rank",)),
    _Fact("MLA q_lora_rank", lambda s: s.mla.q_lora_rank if s.mla else None, ("q_lora_rank",)),
    _Fact(
        "vision tower layers", lambda s: s.vision.num_layers if s.vision else None, ("num_hidden_layers",), vision=True
    ),
)


def _gguf_kind(text: str) -> Kind:
    if text.endswith("(GGUF tensors)"):
        return "GGUF tensors"
    return "assumed" if text.endswith("(not stored in GGUF)") else "GGUF metadata"


@dataclass(frozen=True)
class _Where:
    """Where the config dict came from: a config.json, or a GGUF file (with a source per key)."""

    gguf: Mapping[str, str] | None

    def describe(self, read: Read) -> tuple[str, Kind]:
        """The text and kind of source of one read."""
        if read.origin == "config.json" and self.gguf is not None:
            text = self.gguf.get(read.key, f"{read.key} (GGUF metadata)")
            return text, _gguf_kind(text)
        kind = _ORIGIN_KIND[read.origin]
        name = read.key
        if self.gguf is not None and self.gguf.get(read.key, "").endswith(ABSENT):
            name = self.gguf[read.key].removesuffix(ABSENT).strip()  # the GGUF key that would hold it
        if read.origin == "implied":
            rule = _IMPLIED.get(read.key.rpartition(".")[2], repr(read.value))
            return f"{name} unset: {rule} (derived)", kind
        if read.origin == "transformers default":
            return f"{name} unset: {read.value!r} (transformers default)", kind
        return f"{read.key} (config.json)", kind


def _same(a: object, b: object) -> bool:
    """Equal values of the same kind (True is not the integer 1 here)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _scoped(trace: Sequence[Read], vision: bool) -> list[Read]:
    return [r for r in trace if r.key.startswith("vision_config.") == vision]


def _asked(read: Read) -> str:
    """The quantity a read was for: the first key the mapping asked for."""
    return read.asked[0] if read.asked else read.key.rpartition(".")[2]


def _named(reads: Sequence[Read], keys: Sequence[str]) -> list[Read]:
    """The last read of each requested quantity in ``keys`` (not of each key that happened to answer), in order."""
    last = {_asked(r): i for i, r in enumerate(reads) if _asked(r) in keys}
    return [reads[i] for i in sorted(last.values())]


def _joined(value: Value, reads: Sequence[Read], where: _Where, formula: str = "") -> FactDoc:
    """A value several reads fed: their sources, and their kind when they share one."""
    described = [where.describe(r) for r in reads]
    kinds = {k for _, k in described}
    kind: Kind = kinds.pop() if len(kinds) == 1 else "config.json"
    if all(r.origin == "config.json" for r in reads) and where.gguf is None:
        text = f"{formula or ', '.join(r.key for r in reads)} (config.json)"
    else:
        text = "; ".join(dict.fromkeys(t for t, _ in described))
        text = f"{formula}, from {text}" if formula else text
    return FactDoc(value=value, from_=text, source=kind, keys=[r.key for r in reads])


def _rule(value: Value, text: str = "fixed by the architecture") -> FactDoc:
    return FactDoc(value=value, from_=text, source="architecture rule", keys=[])


def _origin(fact: _Fact, value: Value, spec: ModelSpec, reads: Sequence[Read], where: _Where) -> FactDoc:
    """Where one fact came from: a rule of the mapping, the reads it combines, or the read that set it."""
    if fact.rule is not None and (hit := fact.rule(spec, {_asked(r) for r in reads})) is not None:
        formula, keys = hit
        used = _named(reads, keys)
        return _joined(value, used, where, formula) if used else _rule(value, f"{formula} (architecture rule)")
    named = _named(reads, fact.keys)
    if fact.combined:
        fed = [r for r in named if r.value is not None]  # an unset key with no default contributed nothing
        return _joined(value, fed, where) if fed else _rule(value)
    for read in reversed(named):  # the mapping's last word: a later read overrides an earlier one
        if _same(read.value, value):
            text, kind = where.describe(read)
            return FactDoc(value=value, from_=text, source=kind, keys=[read.key])
    return _rule(value)


def _layer_types(config: Mapping[str, Any]) -> list[Read]:
    """``layer_types`` as a read: the mapping takes it from the config directly, outside the trace."""
    for prefix, data in (("", config), ("text_config.", config.get("text_config"))):
        if isinstance(data, Mapping) and data.get("layer_types") is not None:
            return [Read(f"{prefix}layer_types", data["layer_types"], "config.json", ("layer_types",))]
    return []


def _nested(trace: Sequence[Read], config: Mapping[str, Any]) -> list[Read]:
    """Reads keyed as their place in the file: a multimodal wrapper's text model is read from text_config.

    The mapping builds a wrapper's text model from ``text_config`` without a key prefix; a value
    read from the file that the top level does not hold can only have come from there.
    """
    return [
        Read(f"text_config.{r.key}", r.value, r.origin, r.asked)
        if r.origin == "config.json" and "." not in r.key and r.key not in config
        else r
        for r in trace
    ]


def _dtype_fact(resolved: Resolved, where: _Where) -> FactDoc | None:
    """torch_dtype: the config key that holds the value (or, for GGUF, the assumption made)."""
    spec, config = resolved.spec, resolved.config or {}
    if spec is None or spec.torch_dtype is None:
        return None
    if where.gguf is not None:
        text = where.gguf.get("torch_dtype", "assumed float16 (not stored in GGUF)")
        return FactDoc(value=spec.torch_dtype, from_=text, source=_gguf_kind(text), keys=["torch_dtype"])
    for prefix, data in (("", config), ("text_config.", config.get("text_config"))):
        for key in ("torch_dtype", "dtype"):
            if isinstance(data, Mapping) and data.get(key) is not None and str(data[key]) == spec.torch_dtype:
                where_text = f"{prefix}{key} (config.json)"
                return FactDoc(value=spec.torch_dtype, from_=where_text, source="config.json", keys=[prefix + key])
    return _rule(spec.torch_dtype, "set by vram's mapping")


def _quantization_fact(resolved: Resolved, traced: ModelSpec) -> FactDoc | None:
    """quantization: from quantization_config, the GGUF file type, or the stored FP8 tensors."""
    spec, ckpt = resolved.spec, resolved.checkpoint
    if spec is None or spec.quantization is None:
        return None
    if ckpt is not None and ckpt.source == "gguf":
        return FactDoc(
            value=spec.quantization,
            from_="general.file_type (GGUF metadata)",
            source="GGUF metadata",
            keys=["general.file_type"],
        )
    if traced.quantization == spec.quantization:
        return FactDoc(
            value=spec.quantization,
            from_="quantization_config (config.json)",
            source="config.json",
            keys=["quantization_config"],
        )
    stored = ", ".join(sorted(ckpt.bytes_by_dtype)) if ckpt is not None else "none"
    return FactDoc(
        value=spec.quantization,
        from_=f"stored dtypes {stored}, no quantization_config (checkpoint files)",
        source="checkpoint files",
        keys=[],
    )


def _facts(
    resolved: Resolved, spec: ModelSpec, traced: ModelSpec, trace: Sequence[Read], gguf: Mapping[str, str] | None
) -> dict[str, FactDoc]:
    """Every fact that applies to ``spec`` (the resolved one), attributed through the config's trace."""
    config = resolved.config or {}
    where = _Where(gguf)
    facts: dict[str, FactDoc] = {}
    for fact in _FACTS:
        value = fact.value(spec)
        if value is None:
            continue
        reads = _scoped(trace, fact.vision)
        if fact.label == "sliding window":
            reads += _layer_types(config)
        facts[fact.label] = _origin(fact, value, spec, reads, where)
    stored = {"torch_dtype": _dtype_fact(resolved, where), "quantization": _quantization_fact(resolved, traced)}
    facts.update({label: doc for label, doc in stored.items() if doc is not None})
    return facts


def build_inspect(resolved: Resolved, version: str, gguf_sources: Mapping[str, str] | None = None) -> InspectDocument:
    """The document for a resolved model with an architecture; ``gguf_sources`` for a GGUF file's config."""
    spec, config = resolved.spec, resolved.config
    if spec is None or config is None:
        msg = "a parameter count has no architecture to inspect"
        raise ValueError(msg)
    traced, trace = trace_config(config)
    trace = _nested(trace, config)
    count = count_parameters(spec)
    ckpt = resolved.checkpoint
    return InspectDocument(
        tool=ToolDoc(version=version),
        model=InspectModelDoc(
            **origin_fields(resolved),
            model_type=spec.model_type,
            architecture=spec.architecture,
            exact=spec.exact,
        ),
        architecture=_facts(resolved, spec, traced, trace, gguf_sources),
        parameters=ParametersDoc(total=count.total, active=count.active, by_role=dict(count.by_role)),
        checkpoint=None
        if ckpt is None
        else CheckpointDoc(
            source=ckpt.source,
            files=ckpt.files,
            parameters_by_dtype=dict(ckpt.parameters_by_dtype),
            bytes_by_dtype=dict(ckpt.bytes_by_dtype),
            total_bytes=ckpt.total_bytes,
        ),
        config_keys=[ConfigKeyDoc(key=r.key, value=r.value, origin=r.origin) for r in trace],
        warnings=[*resolved.notes, *spec.approximations],
    )


def render_json(doc: InspectDocument) -> str:
    """The document as indented JSON text."""
    return json.dumps(doc.model_dump(mode="json", by_alias=True), indent=2)


def json_schema() -> dict[str, object]:
    """JSON Schema of the document, as committed in docs/schema/inspect-v1.json."""
    return InspectDocument.model_json_schema(mode="serialization")
