"""The JSON contract of ``vram train --json`` (schema_version 1).

It shares ``tool``, ``model``, ``gpu`` and the component shape with the estimate's document;
``components`` always holds the six training components in COMPONENTS order. Bump the version
only for removals, renames or changed meaning; ``docs/schema/train-v1.json`` is generated from
these models and a test fails when they drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from vram.core.gpu import Fit
from vram.core.params import count_parameters
from vram.core.training.estimate import COMPONENTS, PeakPhase, TrainingEstimate
from vram.core.training.settings import (
    Attention,
    Checkpointing,
    Fsdp,
    LoraTarget,
    Loss,
    Offload,
    OptimizerName,
    Precision,
)
from vram.report.document import (
    SCHEMA_VERSION,
    ComponentDoc,
    GpuDoc,
    ModelDoc,
    ToolDoc,
    _Doc,
    check_int64,
    component_doc,
    gpu_doc,
    origin_fields,
)
from vram.resolve.reference import Resolved

ACTIVATION_OPTIONS = ("--batch", "--seq-len", "--grad-checkpointing", "--attention", "--loss", "--activation-offload")
"""Options that size the activations only: a bare parameter count ignores them (with a warning)."""


class TrainingSettingsDoc(_Doc):
    """The training settings used: what was given, with the precision and the sequence length filled in."""

    precision: Precision | None
    optimizer: OptimizerName
    optimizer_in_backward: bool
    batch: int
    seq_len: int | None
    grad_accum: int
    effective_batch: int
    grad_checkpointing: Checkpointing
    attention: Attention
    loss: Loss
    activation_offload: bool
    lora_rank: int | None
    lora_targets: list[LoraTarget] | None
    qlora: bool
    adapter_dtype: str | None
    lora_dropout: float | None
    gpus: int
    data_parallel: int
    zero: int
    fsdp: Fsdp
    tp: int
    pp: int
    offload: Offload


class ProjectDefaultsDoc(_Doc):
    """The project file that supplied defaults, and the keys taken from it (the command line overrides)."""

    file: str
    keys: list[str]


class TrainingDocument(_Doc):
    """Top level of ``vram train --json``: the per-GPU peak of one training step."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["train"] = "train"
    tool: ToolDoc
    scope: Literal["full", "states_only"]
    model: ModelDoc
    settings: TrainingSettingsDoc
    components: dict[str, ComponentDoc]
    total_bytes: int
    peak_phase: PeakPhase
    trainable_parameters: int
    cpu_bytes: int
    gpu: GpuDoc | None
    project_defaults: ProjectDefaultsDoc | None
    warnings: list[str]


def settings_doc(est: TrainingEstimate) -> TrainingSettingsDoc:
    """The settings object of the document (LoRA fields null for full fine-tuning)."""
    s = est.settings
    return TrainingSettingsDoc(
        precision=s.precision,
        optimizer=s.optimizer,
        optimizer_in_backward=s.optimizer_in_backward,
        batch=s.batch,
        seq_len=s.seq_len,
        grad_accum=s.grad_accum,
        effective_batch=est.effective_batch,
        grad_checkpointing=s.grad_checkpointing,
        attention=s.attention,
        loss=s.loss,
        activation_offload=s.activation_offload,
        lora_rank=s.rank,
        lora_targets=list(s.lora_targets) if s.lora else None,
        qlora=s.qlora,
        adapter_dtype=s.adapter_dtype,
        lora_dropout=s.lora_dropout if s.lora else None,
        gpus=s.gpus,
        data_parallel=s.data_parallel,
        zero=s.zero,
        fsdp=s.fsdp,
        tp=s.tp,
        pp=s.pp,
        offload=s.offload,
    )


def ignored_warning(ignored: Sequence[str]) -> str:
    """The warning for options a bare parameter count cannot use."""
    return (
        f"{', '.join(ignored)} ignored: a bare parameter count has no architecture, so only the model states "
        "(weights, gradients, optimizer) are estimated; pass a catalog model, a config.json or a repo id to size "
        "the activations"
    )


def build_training_document(
    resolved: Resolved,
    est: TrainingEstimate,
    fit: Fit | None,
    version: str,
    *,
    ignored: Sequence[str] = (),
    defaults: ProjectDefaultsDoc | None = None,
    notes: Sequence[str] = (),
) -> TrainingDocument:
    """Assemble the document for one training estimate (full, or model states of a bare count)."""
    spec = resolved.spec
    active = count_parameters(spec).active if spec is not None else est.parameters
    model = ModelDoc(
        **origin_fields(resolved),
        architecture=spec.architecture if spec else None,
        model_type=spec.model_type if spec else None,
        parameters=est.parameters,
        active_parameters=active,
        exact=spec.exact if spec else False,
    )
    warnings = [*resolved.notes, *notes, *est.warnings]
    if ignored:
        warnings.append(ignored_warning(ignored))
    doc = TrainingDocument(
        tool=ToolDoc(version=version),
        scope="states_only" if est.states_only else "full",
        model=model,
        settings=settings_doc(est),
        components={name: component_doc(est.component(name)) for name in COMPONENTS},
        total_bytes=est.total_bytes,
        peak_phase=est.peak_phase,
        trainable_parameters=est.trainable_parameters,
        cpu_bytes=est.cpu_bytes,
        gpu=gpu_doc(fit),
        project_defaults=defaults,
        warnings=warnings,
    )
    check_int64(doc)
    return doc


def json_schema() -> dict[str, object]:
    """JSON Schema of the document, as committed in docs/schema/train-v1.json."""
    return TrainingDocument.model_json_schema(mode="serialization")
