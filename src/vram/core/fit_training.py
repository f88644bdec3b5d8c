"""What training fits on a GPU: full fine-tuning and adapter setups, their maxima, and the fewest GPUs.

Pure: a spec, the requested ``TrainingSettings`` and a card in, a ``TrainFitPlan`` out. Every figure
is ``estimate_training``'s total on the most loaded GPU, solved exactly by ``vram.core.solve``: the
longest sequence at the micro-batch, the largest micro-batch at the sequence length, and the fewest
GPUs under ZeRO-3 (or FSDP full sharding), else Megatron tensor x pipeline parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from vram.core.errors import SettingsError
from vram.core.fit import FitRow, choose, next_up, shortfall_reason
from vram.core.gpu import Gpu, check_fit
from vram.core.limits import MAX_BATCH, MAX_SEQ_LEN
from vram.core.placement import MAX_GPUS, GpuSplit
from vram.core.solve import fewest_fitting, max_fitting
from vram.core.spec import ModelSpec
from vram.core.training.estimate import TrainingEstimate, estimate_training
from vram.core.training.settings import DEFAULT_QLORA_RANK, LORA_TARGETS, Precision, TrainingSettings
from vram.core.training.states import default_precision

TP_PER_NODE = 8
"""Widest tensor-parallel group tried: one 8-GPU NVLink node; Megatron-LM's guide keeps tensor parallelism
within a node and spans nodes with pipeline parallelism (Narayanan et al. 2021, arXiv 2104.04473, section 3.3)."""

ROWS_NOTE = (
    "rows: full fine-tuning in fp32, in mixed precision (fp32 master weights: HF Trainer bf16=True) and in pure "
    "bf16 (torchtune), then LoRA and QLoRA on all linear layers at rank {rank} (PEFT's default r): highest "
    "precision first; name one with --precision, --lora-rank or --qlora"
)


TrainRow = FitRow[TrainingEstimate]
"""One training setup at the requested settings, and its maxima."""


@dataclass(frozen=True, slots=True)
class TrainFitPlan:
    """Everything ``vram fit MODEL --train`` reports."""

    rows: tuple[TrainRow, ...]
    recommended: str | None
    reason: str
    usable_bytes: int
    shortfall_bytes: int
    suggestion: str | None
    min_gpus: GpuSplit | None
    target: TrainingEstimate
    """The requested setup (the model's own mixed precision unless one was named): what ``min_gpus`` holds."""
    notes: tuple[str, ...]

    @property
    def target_args(self) -> tuple[str, ...]:
        """The ``vram train`` options of the requested setup."""
        return train_args(self.target.settings)


def _narrowed(s: TrainingSettings) -> bool:
    """Whether the user named one setup (a precision, LoRA or QLoRA), so only that row is shown."""
    return s.precision is not None or s.lora


def _full(s: TrainingSettings, precision: Precision) -> TrainingSettings:
    return s.model_copy(
        update={"precision": precision, "lora_rank": None, "qlora": False, "lora_targets": LORA_TARGETS}
    )


def _label(s: TrainingSettings) -> str:
    if s.qlora:
        return "qlora"
    return "lora" if s.lora else str(s.precision)


def train_args(s: TrainingSettings) -> tuple[str, ...]:
    """The ``vram train`` options that give ``s`` (those that differ from the defaults), MODEL aside."""
    out: list[str] = []
    for name, field in TrainingSettings.model_fields.items():
        value = getattr(s, name)
        if name == "cuda_context_bytes" or value == field.default:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag)
        elif isinstance(value, tuple):
            out += [flag, ",".join(value)]
        else:
            out += [flag, str(value)]
    return tuple(out)


def candidate_setups(spec: ModelSpec, base: TrainingSettings, gpu: Gpu) -> tuple[list[TrainingSettings], list[str]]:
    """The setups worth a row (most memory first), and notes on what was left out and why."""
    if _narrowed(base):
        return [base], []
    mixed = default_precision(spec)
    notes: list[str] = []
    if mixed in ("fp32", "bf16-mixed") and not gpu.bf16:
        mixed = "fp16-mixed"
        notes.append(f"bf16 needs NVIDIA Ampere or newer: {gpu.name} ({gpu.architecture}) trains in fp16-mixed")
    elif mixed == "fp32":
        mixed = "bf16-mixed"
    full: list[Precision] = ["fp32", mixed]
    if gpu.bf16:
        full.append("bf16")
    rank = DEFAULT_QLORA_RANK
    lora = base.model_copy(update={"precision": mixed, "lora_rank": rank, "qlora": False})
    qlora = base.model_copy(update={"precision": mixed, "lora_rank": rank, "qlora": True})
    notes.append(ROWS_NOTE.format(rank=rank))
    return [*(_full(base, p) for p in dict.fromkeys(full)), lora, qlora], notes


def _estimate(spec: ModelSpec, s: TrainingSettings, **update: int) -> TrainingEstimate:
    return estimate_training(spec, s.model_copy(update=update) if update else s)


def _row(spec: ModelSpec, s: TrainingSettings, gpu: Gpu) -> TrainRow:
    budget = gpu.usable_memory_bytes
    est = _estimate(spec, s)
    resolved = est.settings
    assert resolved.seq_len is not None
    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    ctx = max_fitting(lambda n: _estimate(spec, resolved, seq_len=n).total_bytes, budget, 1, limit)
    bat = max_fitting(lambda n: _estimate(spec, resolved, batch=n).total_bytes, budget, 1, MAX_BATCH)
    return FitRow(
        dtype=_label(resolved),
        args=train_args(resolved),
        total_bytes=est.total_bytes,
        need_bytes=est.total_bytes,
        fits=est.total_bytes <= budget,
        max_seq_len=ctx.value,
        max_seq_len_capped=ctx.capped,
        max_batch=bat.value,
        max_batch_capped=bat.capped,
        native=not (resolved.precision in ("bf16", "bf16-mixed") and not gpu.bf16),
        warnings=check_fit(est, gpu).warnings,
        estimate=est,
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """A multi-GPU training layout: world size, tensor and pipeline sizes, ZeRO stage or FSDP strategy."""

    gpus: int
    tp: int
    pp: int
    zero: int
    fsdp: str


def training_layouts(spec: ModelSpec, s: TrainingSettings, most: int = MAX_GPUS) -> Iterator[tuple[int, _Layout]]:
    """(count, layout) by count: one GPU as asked; then at each count sharded data parallel (ZeRO-3, or FSDP full
    sharding when FSDP was asked for) over all GPUs, then tensor x pipeline parallel, the widest TP first."""
    fsdp = s.fsdp != "none"
    for n in range(1, most + 1):
        if n == 1:
            yield 1, _Layout(1, 1, 1, s.zero, s.fsdp)
            continue
        yield n, _Layout(n, 1, 1, 0 if fsdp else 3, "full" if fsdp else "none")
        for tp in range(min(n, TP_PER_NODE), 0, -1):
            pp = n // tp
            if n % tp == 0 and pp <= spec.num_layers and (tp, pp) != (1, 1):
                yield n, _Layout(n, tp, pp, 0, "none")


def fewest_training_gpus(spec: ModelSpec, s: TrainingSettings, budget: int, most: int = MAX_GPUS) -> GpuSplit | None:
    """The fewest GPUs of ``budget`` usable bytes each on which ``s`` trains, with the layout and per-GPU bytes.

    Layouts the model or the settings refuse (a TP size that does not divide the heads, CPU offload
    without a sharded optimizer) are skipped.
    """

    def need(layout: object) -> int | None:
        assert isinstance(layout, _Layout)
        try:
            return estimate_training(spec, s.model_copy(update=_update(layout))).total_bytes
        except SettingsError:
            return None

    found = fewest_fitting(training_layouts(spec, s, most), need, budget)
    if found.count is None or found.per_gpu_bytes is None or not isinstance(found.layout, _Layout):
        return None
    lay = found.layout
    return GpuSplit(
        lay.gpus, tp=lay.tp, pp=lay.pp, zero=lay.zero, per_gpu_bytes=found.per_gpu_bytes, dtype=_label(s),
        runtime="training", fsdp=lay.fsdp,
    )  # fmt: skip


def plan_training_fit(spec: ModelSpec, base: TrainingSettings, gpu: Gpu) -> TrainFitPlan:
    """Rows for every training setup (or the one ``base`` names), the recommendation, fewest GPUs and a hint."""
    budget = gpu.usable_memory_bytes
    setups, notes = candidate_setups(spec, base, gpu)
    rows = [_row(spec, s, gpu) for s in setups]
    chosen = choose(rows)
    target = rows[0] if _narrowed(base) else next(r for r in rows if r.dtype not in ("fp32", "lora", "qlora"))
    s = target.estimate.settings
    where = f"{s.seq_len:,} tokens x micro-batch {s.batch}" + (f" on {s.gpus} GPUs" if s.gpus > 1 else "")
    min_gpus = fewest_training_gpus(spec, target.estimate.settings, budget)
    shortfall = 0
    suggestion = None
    if chosen is not None:
        reason = f"{chosen.dtype}: the highest-precision setup that trains at {where}" + next_up(rows, chosen, budget)
    else:
        smallest, shortfall, reason = shortfall_reason(rows, budget, f"nothing trains at {where}")
        suggestion = _suggest(spec, smallest, target, min_gpus, budget)
    return TrainFitPlan(
        rows=tuple(rows),
        recommended=chosen.dtype if chosen else None,
        reason=reason,
        usable_bytes=budget,
        shortfall_bytes=shortfall,
        suggestion=suggestion,
        min_gpus=min_gpus,
        target=target.estimate,
        notes=tuple(notes),
    )


def layout_args(split: GpuSplit) -> str:
    """The ``vram train`` options of a multi-GPU layout (``--gpus 7 --zero 3``)."""
    return " ".join(train_args(TrainingSettings.model_validate(_update(split))))


def _suggest(
    spec: ModelSpec, smallest: TrainRow, target: TrainRow, min_gpus: GpuSplit | None, budget: int
) -> str | None:
    """One change that makes training fit, as ``vram train`` options: full activation checkpointing on the
    smallest setup, else a shorter sequence, else the fewest GPUs for the requested setup."""
    s = smallest.estimate.settings
    if s.grad_checkpointing == "none":
        checkpointed = s.model_copy(update={"grad_checkpointing": "full"})
        if estimate_training(spec, checkpointed).total_bytes <= budget:
            return " ".join(train_args(checkpointed))
    if smallest.max_seq_len is not None:
        return " ".join(train_args(s.model_copy(update={"seq_len": smallest.max_seq_len})))
    if min_gpus is not None:
        return " ".join(train_args(target.estimate.settings.model_copy(update=_update(min_gpus))))
    return None


def _update(split: GpuSplit | _Layout) -> dict[str, object]:
    """The settings fields a multi-GPU layout sets."""
    gpus = split.count if isinstance(split, GpuSplit) else split.gpus
    return {"gpus": gpus, "tp": split.tp, "pp": split.pp, "zero": split.zero, "fsdp": split.fsdp}
