"""The JSON contract of ``vram fit --json`` (schema_version 1; ``docs/schema/fit-v1.json``).

One document for both questions: ``scope: "model"`` (what format, context and batch fit this card
for one model: ``rows`` and what follows) and ``scope: "catalog"`` (what each bundled model can run
on this card: ``catalog``). Same versioning rule as ``vram estimate``'s document.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from vram.core.fit import FitPlan, FitRow
from vram.core.gpu import Gpu
from vram.core.inference import InferenceEstimate, InferenceSettings
from vram.core.placement import GpuSplit
from vram.report.document import SCHEMA_VERSION, ModelDoc, ToolDoc, check_int64, origin_fields
from vram.resolve.reference import Resolved

if TYPE_CHECKING:  # the training modules load only for --train, keeping `vram fit`'s start-up as it was
    from vram.core.fit_training import TrainFitPlan, TrainRow


class _Doc(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class FitGpuDoc(_Doc):
    """The card asked about, and how many of them."""

    name: str
    count: int
    memory_bytes: int
    usable_memory_bytes: int
    bandwidth_gb_s: float | None
    pcie_gb_s: float | None


class FitSettingsDoc(_Doc):
    """The setting every row is judged at (context and batch), and the runtime modelled."""

    runtime: Literal["transformers", "vllm", "llama.cpp"]
    batch: int
    seq_len: int | None
    kv_dtype: str | None
    train: bool = False
    """``--train``: rows are training setups, ``batch`` is the micro-batch per GPU and ``seq_len`` the sequence."""
    train_args: list[str] = Field(default_factory=list)
    """``--train``: the ``vram train`` options of the requested setup (what ``min_gpus`` holds), for a breakdown."""


class RowDoc(_Doc):
    """One weight format: its total at the requested setting (per GPU), and the largest context and batch.

    ``max_seq_len`` is at the requested batch, ``max_batch`` at the requested context; null when even
    1 does not fit; a ``*_capped`` flag says the search stopped at the model's maximum context or at
    the batch limit rather than at the card's memory.
    """

    dtype: str
    total_bytes: int
    fits: bool
    max_seq_len: int | None
    max_seq_len_capped: bool
    max_batch: int | None
    max_batch_capped: bool
    native: bool
    warnings: list[str]
    args: list[str] = Field(default_factory=list)
    """``--train``: the ``vram train`` options that select this row's setup; empty for inference."""


class MinGpusDoc(_Doc):
    """The fewest GPUs of this type that hold the model, the layout and the most loaded GPU's bytes."""

    count: int
    tp: int
    pp: int
    zero: int
    per_gpu_bytes: int
    dtype: str
    layout: str
    fsdp: Literal["none", "full", "grad-op"] = "none"
    """``--train``: ``full`` when FSDP full sharding (rather than ZeRO, ``zero``) shards the states."""


class OffloadDoc(_Doc):
    """Decoder layers on the GPU and in CPU memory when nothing fits, and the setting that asks for it."""

    dtype: str
    gpu_layers: int
    cpu_layers: int
    gpu_bytes: int
    cpu_bytes: int
    flag: str


class CatalogRowDoc(_Doc):
    """A bundled model on this card: the highest-precision format that fits, its context and speed bound."""

    id: str
    parameters: int
    active_parameters: int
    dtype: str | None
    total_bytes: int
    fits: bool
    max_seq_len: int | None
    decode_tokens_per_s_bound: float | None


class FitDocument(_Doc):
    """Top level of ``vram fit --json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["fit"] = "fit"
    tool: ToolDoc
    scope: Literal["model", "catalog"]
    model: ModelDoc | None
    gpu: FitGpuDoc
    settings: FitSettingsDoc
    rows: list[RowDoc]
    recommended: str | None
    reason: str | None
    shortfall_bytes: int
    suggestion: str | None
    min_gpus: MinGpusDoc | None
    offload: OffloadDoc | None
    decode_tokens_per_s_bound: float | None
    decode_assumptions: str | None
    catalog: list[CatalogRowDoc]
    notes: list[str]
    warnings: list[str]


def _row(r: FitRow[InferenceEstimate] | TrainRow) -> RowDoc:
    return RowDoc(
        dtype=r.dtype,
        total_bytes=r.total_bytes,
        fits=r.fits,
        max_seq_len=r.max_seq_len,
        max_seq_len_capped=r.max_seq_len_capped,
        max_batch=r.max_batch,
        max_batch_capped=r.max_batch_capped,
        native=r.native,
        warnings=list(r.warnings),
        args=list(getattr(r, "args", ())),
    )


def gpu_doc(gpu: Gpu, count: int) -> FitGpuDoc:
    """The card part of the document."""
    return FitGpuDoc(
        name=gpu.name,
        count=count,
        memory_bytes=gpu.memory_bytes,
        usable_memory_bytes=gpu.usable_memory_bytes,
        bandwidth_gb_s=gpu.bandwidth_gb_s,
        pcie_gb_s=round(gpu.pcie_gb_s, 3) if gpu.pcie_gb_s else None,
    )


def _layout(m: GpuSplit) -> str:
    """How the fewest GPUs are used, in words and with the flags that ask for it."""
    if m.runtime == "vllm":
        return f"TP {m.tp} x PP {m.pp} (vllm serve --tensor-parallel-size {m.tp} --pipeline-parallel-size {m.pp})"
    if m.count == 1:
        return "one GPU"
    if m.runtime == "training":
        from vram.core.fit_training import layout_args

        if m.tp > 1 or m.pp > 1:
            how = f"Megatron TP {m.tp} x PP {m.pp}"
        else:
            how = "FSDP full sharding" if m.fsdp == "full" else f"ZeRO-{m.zero}"
        return f"{how}: vram train {layout_args(m)}"
    return f'{m.count} GPUs, consecutive layers on each (device_map="auto")'


def _min_gpus(m: GpuSplit | None) -> MinGpusDoc | None:
    if m is None:
        return None
    fsdp: Literal["none", "full", "grad-op"] = "full" if m.fsdp == "full" else "none"
    return MinGpusDoc(
        count=m.count, tp=m.tp, pp=m.pp, zero=m.zero, per_gpu_bytes=m.per_gpu_bytes, dtype=m.dtype,
        layout=_layout(m), fsdp=fsdp,
    )  # fmt: skip


def build_fit_document(
    resolved: Resolved, plan: FitPlan, gpu: Gpu, count: int, settings: FitSettingsDoc, version: str
) -> FitDocument:
    """The document for one model on one card type."""
    spec = resolved.spec
    assert spec is not None
    first = plan.rows[0].estimate
    model = ModelDoc(
        **origin_fields(resolved),
        architecture=spec.architecture,
        model_type=spec.model_type,
        parameters=first.parameters,
        active_parameters=first.active_parameters,
        exact=spec.exact,
    )
    min_gpus = _min_gpus(plan.min_gpus)
    o = plan.offload
    offload = None
    if o is not None:
        offload = OffloadDoc(
            dtype=o.dtype, gpu_layers=o.gpu_layers, cpu_layers=o.cpu_layers, gpu_bytes=o.gpu_bytes,
            cpu_bytes=o.cpu_bytes, flag=o.flag,
        )  # fmt: skip
    warnings = [*resolved.notes, *first.warnings]
    doc = FitDocument(
        tool=ToolDoc(version=version),
        scope="model",
        model=model,
        gpu=gpu_doc(gpu, count),
        settings=settings,
        rows=[_row(r) for r in plan.rows],
        recommended=plan.recommended,
        reason=plan.reason,
        shortfall_bytes=plan.shortfall_bytes,
        suggestion=plan.suggestion,
        min_gpus=min_gpus,
        offload=offload,
        decode_tokens_per_s_bound=round(plan.decode.tokens_per_s, 2) if plan.decode else None,
        decode_assumptions=plan.decode.assumptions if plan.decode else None,
        catalog=[],
        notes=list(plan.skipped),
        warnings=warnings,
    )
    check_int64(doc)
    return doc


def build_train_fit_document(
    resolved: Resolved, plan: TrainFitPlan, gpu: Gpu, count: int, settings: FitSettingsDoc, version: str
) -> FitDocument:
    """The document of ``vram fit MODEL --train``: one row per training setup, fewest GPUs for the requested one."""
    from vram.core.params import count_parameters

    spec = resolved.spec
    assert spec is not None
    target = plan.target
    model = ModelDoc(
        **origin_fields(resolved),
        architecture=spec.architecture,
        model_type=spec.model_type,
        parameters=target.parameters,
        active_parameters=count_parameters(spec).active,
        exact=spec.exact,
    )
    doc = FitDocument(
        tool=ToolDoc(version=version),
        scope="model",
        model=model,
        gpu=gpu_doc(gpu, count),
        settings=settings.model_copy(
            update={"seq_len": target.settings.seq_len, "train": True, "train_args": list(plan.target_args)}
        ),
        rows=[_row(r) for r in plan.rows],
        recommended=plan.recommended,
        reason=plan.reason,
        shortfall_bytes=plan.shortfall_bytes,
        suggestion=plan.suggestion,
        min_gpus=_min_gpus(plan.min_gpus),
        offload=None,
        decode_tokens_per_s_bound=None,
        decode_assumptions=None,
        catalog=[],
        notes=list(plan.notes),
        warnings=[*resolved.notes, *target.warnings],
    )
    check_int64(doc)
    return doc


def build_catalog_document(
    rows: list[CatalogRowDoc], gpu: Gpu, count: int, settings: FitSettingsDoc, notes: list[str], version: str
) -> FitDocument:
    """The document for ``vram fit --gpu NAME`` without a model: every bundled model on that card."""
    doc = FitDocument(
        tool=ToolDoc(version=version),
        scope="catalog",
        model=None,
        gpu=gpu_doc(gpu, count),
        settings=settings,
        rows=[],
        recommended=None,
        reason=None,
        shortfall_bytes=0,
        suggestion=None,
        min_gpus=None,
        offload=None,
        decode_tokens_per_s_bound=None,
        decode_assumptions=None,
        catalog=rows,
        notes=notes,
        warnings=[],
    )
    check_int64(doc)
    return doc


def scan_catalog(
    gpu: Gpu,
    count: int,
    base: InferenceSettings,
    settings: FitSettingsDoc,
    family: str | None,
    min_context: int | None,
    version: str,
) -> FitDocument:
    """Every bundled model on ``count`` x ``gpu``: its best format, longest context and decode bound, by size.

    ``family`` keeps the models whose id or model_type contains it; ``min_context`` those whose best
    format fits at least that many tokens.
    """
    from vram.core.fit import plan_fit
    from vram.resolve.catalog import models
    from vram.resolve.reference import resolve

    rows: list[CatalogRowDoc] = []
    want = (family or "").lower()
    for m in models():
        if want and want not in m.id.lower() and want not in str(m.config.get("model_type", "")).lower():
            continue
        spec = resolve(m.id, offline=True).spec
        assert spec is not None
        plan = plan_fit(spec, base, gpu, gpus=count, extras=False)
        best = next((r for r in plan.rows if r.dtype == plan.recommended), None)
        shown = best or min(plan.rows, key=lambda r: r.total_bytes)
        if min_context is not None and (best is None or (best.max_seq_len or 0) < min_context):
            continue
        est = shown.estimate
        rows.append(
            CatalogRowDoc(
                id=m.id,
                parameters=est.parameters,
                active_parameters=est.active_parameters,
                dtype=plan.recommended,
                total_bytes=shown.total_bytes,
                fits=best is not None,
                max_seq_len=best.max_seq_len if best else None,
                decode_tokens_per_s_bound=round(plan.decode.tokens_per_s, 2) if plan.decode else None,
            )
        )
    rows.sort(key=lambda r: (r.parameters, r.id))
    ctx = f"{settings.seq_len:,} tokens" if settings.seq_len else "each model's default context (4,096 or less)"
    notes = [f"judged at {ctx} x batch {settings.batch}; the best format is the highest precision that fits"]
    return build_catalog_document(rows, gpu, count, settings, notes, version)


def render_fit_json(doc: FitDocument) -> str:
    """The document as indented JSON text."""
    return json.dumps(doc.model_dump(mode="json"), indent=2)


def json_schema() -> dict[str, object]:
    """JSON Schema of the document, as committed in docs/schema/fit-v1.json."""
    return FitDocument.model_json_schema(mode="serialization")
