"""The JSON contract of ``vram estimate --json`` (schema_version 1).

Bump SCHEMA_VERSION only when a field is removed or renamed or changes type or meaning; adding
a field does not bump it (pip's installation-report rule). ``docs/schema/estimate-v1.json`` is
generated from these models and a test fails when they drift apart.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from vram.core.decode import DecodeBound
from vram.core.errors import SettingsError
from vram.core.gpu import Fit
from vram.core.inference import InferenceEstimate, WeightsEstimate
from vram.core.result import Component
from vram.resolve.reference import Resolved, Source

SCHEMA_VERSION: Literal[1] = 1
INT64_MAX = (1 << 63) - 1
"""Every JSON integer stays within a signed 64-bit integer (what jq, Go and Java read without loss)."""


class _Doc(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class ToolDoc(_Doc):
    """The program that wrote the document."""

    name: Literal["vram"] = "vram"
    version: str


class ModelDoc(_Doc):
    """The model the estimate is for and where its description came from."""

    id: str
    source: Source
    revision: str | None
    architecture: str | None
    model_type: str | None
    parameters: int
    active_parameters: int
    exact: bool
    location: str | None
    provenance: str | None


class SettingsDoc(_Doc):
    """The settings used, defaults filled in (null where they do not apply)."""

    dtype: str
    kv_dtype: str | None
    batch: int | None
    seq_len: int | None
    logits: str | None
    mla_cache: str | None


class ComponentDoc(_Doc):
    """One component: integer bytes and the one-line assumption behind it."""

    bytes: int
    note: str
    details: dict[str, int | float | str]


class GpuDoc(_Doc):
    """The fit verdict for --gpu: judged against usable_memory_bytes, what a process can allocate."""

    name: str
    memory_bytes: int
    usable_memory_bytes: int
    fits: bool
    headroom_bytes: int
    warnings: list[str]
    decode_tokens_per_s_bound: float | None = None
    decode_assumptions: str | None = None


class RuntimeDoc(_Doc):
    """The runtime modelled and what it reports itself (null where a field does not apply to it)."""

    name: Literal["transformers", "vllm", "llama.cpp"]
    kv_cache_tokens: int | None = None
    max_concurrency: float | None = None
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    block_size: int | None = None
    num_gpu_blocks: int | None = None
    requested_memory_bytes: int | None = None
    kv_cache_memory_bytes: int | None = None
    non_kv_memory_bytes: int | None = None
    kv_needed_bytes: int | None = None
    fits: bool | None = None
    enforce_eager: bool | None = None
    n_gpu_layers: int | None = None  # llama.cpp: layer slots on the GPU, the output layer included
    cpu_bytes: int | None = None  # llama.cpp: host memory (embeddings, CPU layers' weights and KV, host buffers)
    load_bytes: int | None = None  # transformers: torch.cuda.memory_allocated() after from_pretrained


class ParallelDoc(_Doc):
    """The multi-GPU split; every byte figure in the document is per GPU."""

    tp: int
    pp: int
    per_gpu: Literal[True] = True


class EstimateDocument(_Doc):
    """Top level of ``vram estimate --json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["estimate"] = "estimate"
    tool: ToolDoc
    scope: Literal["full", "weights_only"]
    model: ModelDoc
    settings: SettingsDoc
    components: dict[str, ComponentDoc]
    total_bytes: int
    gpu: GpuDoc | None
    warnings: list[str]
    runtime: RuntimeDoc | None = None
    parallel: ParallelDoc | None = None


def component_doc(c: Component) -> ComponentDoc:
    """One component as the documents print it."""
    return ComponentDoc(bytes=c.bytes, note=c.note, details=dict(c.details))


def origin_fields(resolved: Resolved) -> dict[str, Any]:
    """Where the model's description came from: the fields every document's ``model`` object shares."""
    return {
        "id": resolved.id,
        "source": resolved.source,
        "revision": resolved.revision,
        "location": resolved.location,
        "provenance": resolved.provenance,
    }


def build_document(
    resolved: Resolved, estimate: WeightsEstimate, fit: Fit | None, version: str, decode: DecodeBound | None = None
) -> EstimateDocument:
    """Assemble the document for one estimate (full or weights-only), with the GPU's decode bound when known."""
    spec = resolved.spec
    if isinstance(estimate, InferenceEstimate):
        s = estimate.settings
        settings = SettingsDoc(
            dtype=s.dtype, kv_dtype=s.kv_dtype, batch=s.batch, seq_len=s.seq_len, logits=s.logits, mla_cache=s.mla_cache
        )
        params, active = estimate.parameters, estimate.active_parameters
        runtime: RuntimeDoc | None = RuntimeDoc(name=estimate.runtime, **estimate.runtime_facts)
        parallel: ParallelDoc | None = ParallelDoc(tp=estimate.tp, pp=estimate.pp)
    else:
        runtime = parallel = None
        name = estimate.format.name
        settings = SettingsDoc(dtype=name, kv_dtype=None, batch=None, seq_len=None, logits=None, mla_cache=None)
        params = active = estimate.parameters
    model = ModelDoc(
        **origin_fields(resolved),
        architecture=spec.architecture if spec else None,
        model_type=spec.model_type if spec else None,
        parameters=params,
        active_parameters=active,
        exact=spec.exact if spec else False,
    )
    doc = EstimateDocument(
        tool=ToolDoc(version=version),
        scope="full" if spec is not None else "weights_only",
        model=model,
        settings=settings,
        components={c.name: component_doc(c) for c in estimate.components},
        total_bytes=estimate.total_bytes,
        gpu=gpu_doc(fit, decode),
        warnings=[*resolved.notes, *estimate.warnings],
        runtime=runtime,
        parallel=parallel,
    )
    check_int64(doc)
    return doc


def gpu_doc(fit: Fit | None, decode: DecodeBound | None = None) -> GpuDoc | None:
    """The ``gpu`` object of a document: the --gpu verdict (with the decode bound when known), or None."""
    if fit is None:
        return None
    return GpuDoc(
        name=fit.name,
        memory_bytes=fit.memory_bytes,
        usable_memory_bytes=fit.usable_memory_bytes,
        fits=fit.fits,
        headroom_bytes=fit.headroom_bytes,
        warnings=list(fit.warnings),
        decode_tokens_per_s_bound=round(decode.tokens_per_s, 2) if decode else None,
        decode_assumptions=decode.assumptions if decode else None,
    )


def check_int64(doc: BaseModel) -> None:
    """Refuse a document holding an integer beyond int64 (a SettingsError naming the field)."""
    _check_int64(doc.model_dump(mode="json"), "")


def _check_int64(node: object, where: str) -> None:
    """Refuse a document holding an integer beyond int64 (a SettingsError naming the field)."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_int64(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_int64(value, f"{where}[{i}]")
    elif isinstance(node, int) and not isinstance(node, bool) and not -INT64_MAX <= node <= INT64_MAX:
        msg = f"{where} ({node:.3g}) exceeds a 64-bit integer: lower --batch or --seq-len, or check the config's sizes"
        raise SettingsError(msg)


def render_json(doc: BaseModel) -> str:
    """The document as indented JSON text (plain json.dumps: no markup, no wrapping)."""
    return json.dumps(doc.model_dump(mode="json"), indent=2)


def json_schema() -> dict[str, object]:
    """JSON Schema of the document, as committed in docs/schema/estimate-v1.json."""
    return EstimateDocument.model_json_schema(mode="serialization")
