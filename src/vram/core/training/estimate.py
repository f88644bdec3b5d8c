"""The per-GPU training estimate: six components at the moment of the peak.

``estimate_training`` puts together the model states (``states``), split as the parallel layout
splits them (``sharding``), the activations of ``vram.core.training.activations`` and the overhead,
at each moment of a step (end of forward, start and end of backward, optimizer step), and reports
the moment with the largest total. Lifetimes: gradients are None during forward (HF Trainer's
``zero_grad(set_to_none=True)``) unless accumulated over micro-batches; optimizer states exist from
the first step on; the step adds its temporaries; activations are freed by the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field

from vram.core.checkpoint import Checkpoint
from vram.core.dtypes import Format, float_name, get_format
from vram.core.errors import SettingsError
from vram.core.inference import WeightsEstimate
from vram.core.overhead import allocator_bytes
from vram.core.params import Tensor, count_parameters, tensors
from vram.core.result import Component
from vram.core.spec import ModelSpec
from vram.core.training.activations import ActivationPeaks, training_activations
from vram.core.training.lora import adapter_tensors, missing_targets
from vram.core.training.settings import DEFAULT_TRAIN_SEQ_LEN, LORA_TARGETS, Precision, TrainingSettings
from vram.core.training.sharding import check_parallel, layout, local_tensors
from vram.core.training.states import (
    MOMENTS,
    ModelStates,
    Moment,
    compute_dtype,
    default_precision,
    model_states,
    weights_format,
)
from vram.core.units import MiB, binary_size

PeakPhase = Literal["forward", "backward", "optimizer_step"]

COMPONENTS: tuple[str, ...] = ("weights", "master_weights", "gradients", "optimizer", "activations", "overhead")
"""Every training estimate holds these components, in this order (bytes 0 with a note when one does not apply)."""


class TrainingEstimate(WeightsEstimate):
    """Training memory on the most loaded GPU at its peak.

    ``components`` are the COMPONENTS, describing the moment ``peak_phase`` names; ``overhead`` holds
    what is not a tensor of the model or the data (CUDA context, communication buffers, allocator
    reserve), so ``total_bytes - overhead`` compares with ``torch.cuda.max_memory_allocated``.
    ``settings`` are the settings used, with the precision and the sequence length filled in.
    """

    settings: TrainingSettings
    trainable_parameters: int = Field(ge=0)
    peak_phase: PeakPhase
    cpu_bytes: int = Field(default=0, ge=0, description="host memory for offloaded states, 0 without offload")
    states_only: bool = Field(default=False, description="a bare parameter count: model states only")

    @property
    def effective_batch(self) -> int:
        """Sequences per optimizer step over all data-parallel ranks: batch x grad_accum x data-parallel size."""
        s = self.settings
        return s.batch * s.grad_accum * s.data_parallel


ActivationsFn = Callable[[ModelSpec, TrainingSettings, Sequence[Tensor]], ActivationPeaks]
"""The activation model's signature (``training_activations``), replaceable in ``estimate_training``."""

NCCL_COMMUNICATOR_BYTES = 688 * MiB
"""Device memory of one NCCL communicator after its first collective: 688 MiB measured for groups of more
than two A100s over NVLink (NVIDIA/nccl issue #964, "Question about GPU memory consumption of NCCL").
One per parallel dimension in use (data, tensor, pipeline)."""

_PHASE: dict[Moment, PeakPhase] = {
    "forward": "forward",
    "backward_start": "backward",
    "backward_end": "backward",
    "optimizer_step": "optimizer_step",
}


DEFAULT_COUNT_PRECISION: Precision = "bf16-mixed"
"""Precision for a bare parameter count: the mixed precision of a 16-bit checkpoint, as the inference
estimate assumes 16-bit weights for a bare count (``vram.core.inference.DEFAULT_COUNT_DTYPE``);
bf16 and fp16 mixed precision cost the same bytes."""


def resolve_settings(spec: ModelSpec | None, settings: TrainingSettings | None) -> TrainingSettings:
    """Check the settings and fill the precision and sequence length from the model."""
    s = settings or TrainingSettings()
    s.check()
    precision = s.precision or (default_precision(spec) if spec is not None else DEFAULT_COUNT_PRECISION)
    seq_len = s.seq_len
    if seq_len is None:
        limit = spec.max_position_embeddings if spec is not None else None
        seq_len = min(DEFAULT_TRAIN_SEQ_LEN, limit or DEFAULT_TRAIN_SEQ_LEN)
    return s.model_copy(update={"precision": precision, "seq_len": seq_len})


def _detail(peaks: ActivationPeaks, key: str) -> int:
    value = peaks.details.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def _activation_bytes(peaks: ActivationPeaks | None) -> dict[Moment, int]:
    """Activation bytes at each moment. At the end of backward one layer is left: its saved (or
    recomputed) tensors and its activation gradients, never more than the backward peak."""
    if peaks is None:
        return dict.fromkeys(MOMENTS, 0)
    start = peaks.saved_bytes + peaks.backward_extra_bytes
    last_layer = _detail(peaks, "per_layer_bytes") + _detail(peaks, "layer_gradient_bytes")
    return {
        "forward": peaks.saved_bytes + peaks.forward_extra_bytes,
        "backward_start": start,
        "backward_end": min(start, last_layer),
        "optimizer_step": 0,
    }


def _overhead(settings: TrainingSettings, allocations: list[int]) -> Component:
    """CUDA context, one NCCL communicator per parallel dimension in use, and the allocator's rounding."""
    dims = [d for d in (settings.data_parallel, settings.tp, settings.pp) if d > 1]
    nccl = NCCL_COMMUNICATOR_BYTES * len(dims)
    rounding = allocator_bytes(allocations) - sum(allocations)
    context = settings.cuda_context_bytes
    note = f"CUDA context {context / MiB:.0f} MiB"
    if nccl:
        note += f" + NCCL {len(dims)} x {NCCL_COMMUNICATOR_BYTES / MiB:.0f} MiB"
    note += f" + PyTorch allocator rounding {rounding / MiB:,.0f} MiB"
    details: dict[str, int | float | str] = {
        "cuda_context_bytes": context,
        "nccl_bytes": nccl,
        "allocator_rounding_bytes": rounding,
    }
    return Component(name="overhead", bytes=context + nccl + rounding, note=note, details=details)


def _zero_floor(settings: TrainingSettings, parameters: int) -> str:
    """The ZeRO paper's model-state figure for these settings (arXiv 1910.02054 section 5, K = 12)."""
    n, z, p = settings.data_parallel, settings.zero, parameters
    per = {1: 4 * p + -(-12 * p // n), 2: 2 * p + -(-14 * p // n), 3: -(-16 * p // n)}[z]
    return f"ZeRO paper floor for model states: {per / 1e9:.1f} GB per GPU"


_MOMENT_TEXT: dict[Moment, str] = {
    "forward": "at the end of forward",
    "backward_start": "at the start of backward",
    "backward_end": "at the end of backward",
    "optimizer_step": "at the optimizer step",
}


def _alive(by_moment: dict[Moment, int], moment: Moment) -> str:
    """When a state is only partly alive at the peak (gradients early in backward): how much, of how much."""
    most = max(by_moment.values())
    if by_moment[moment] >= most:
        return ""
    return f"{binary_size(by_moment[moment])} alive {_MOMENT_TEXT[moment]}, of {binary_size(most)} later; "


def _components(
    states: ModelStates, acts: dict[Moment, int], acts_note: str, acts_details: dict[str, int | float | str],
    overhead: Component, moment: Moment,
) -> tuple[Component, ...]:  # fmt: skip
    parts = {
        "weights": states.weights,
        "master_weights": states.master_weights,
        "gradients": states.gradients,
        "optimizer": states.optimizer,
    }
    out = [
        Component(name=k, bytes=v.by_moment[moment], note=_alive(v.by_moment, moment) + v.note, details=v.details)
        for k, v in parts.items()
    ]
    note = acts_note if moment != "optimizer_step" else "none at the optimizer step (freed after backward)"
    out.append(Component(name="activations", bytes=acts[moment], note=note, details=acts_details))
    out.append(overhead)
    return tuple(out)


def _assemble(
    spec_parameters: int, trainable: int, states: ModelStates, settings: TrainingSettings,
    peaks: ActivationPeaks | None, acts_note: str, warnings: list[str], *, states_only: bool, fmt: Format,
    compute: str,
) -> TrainingEstimate:  # fmt: skip
    acts = _activation_bytes(peaks)
    acts_details: dict[str, int | float | str] = dict(peaks.details) if peaks is not None else {}
    overhead = _overhead(settings, states.allocations)
    moments = [m for m in MOMENTS if not (m == "optimizer_step" and settings.optimizer_in_backward)]

    parts = (states.weights, states.master_weights, states.gradients, states.optimizer)

    def total(m: Moment) -> int:
        return sum(p.by_moment[m] for p in parts) + acts[m]

    moment = max(moments, key=total)
    if settings.zero and not settings.lora and settings.precision != "fp32":
        states.optimizer.note += f"; {_zero_floor(settings, spec_parameters)}"
    cpu = states.cpu_bytes + (peaks.cpu_bytes if peaks is not None else 0)
    return TrainingEstimate(
        components=_components(states, acts, acts_note, acts_details, overhead, moment),
        warnings=tuple(warnings),
        parameters=spec_parameters,
        format=fmt,
        compute_dtype=compute,
        settings=settings,
        trainable_parameters=trainable,
        peak_phase=_PHASE[moment],
        cpu_bytes=cpu,
        states_only=states_only,
    )


def _warnings(spec: ModelSpec, s: TrainingSettings, adapters: list[Tensor]) -> list[str]:
    warnings = list(spec.approximations)
    if s.precision == "fp16-mixed" and float_name(spec.torch_dtype) == "bf16":
        warnings.append(
            "fp16-mixed on a model stored in bf16: activations may overflow fp16's range; bf16-mixed is safer"
        )
    limit = spec.max_position_embeddings
    if limit and s.seq_len and s.seq_len > limit:
        warnings.append(f"--seq-len {s.seq_len:,} exceeds the model's max_position_embeddings ({limit:,})")
    if s.lora and s.lora_targets != LORA_TARGETS:  # all-linear adapts whatever Linears the model has
        missing = missing_targets(spec, s.lora_targets)
        if missing:
            warnings.append(f"--lora-targets {','.join(missing)} name no module of {spec.architecture}: skipped")
    if s.qlora and spec.moe is not None:
        warnings.append(
            "QLoRA quantizes only nn.Linear layers: transformers 5's fused expert parameters stay unquantized "
            "(and prepare_model_for_kbit_training casts them to fp32 under mixed precision)"
        )
    return warnings


def estimate_training(
    spec: ModelSpec, settings: TrainingSettings | None = None, checkpoint: Checkpoint | None = None,
    *, activations: ActivationsFn | None = None,
) -> TrainingEstimate:  # fmt: skip
    """Training memory on the most loaded GPU at its peak moment.

    ``checkpoint`` is accepted for symmetry with ``estimate_inference``: training re-creates the
    weights in the training dtype, so the stored bytes do not enter. ``activations`` replaces the
    activation model (``vram.core.training.activations.training_activations``).
    """
    del checkpoint
    s = resolve_settings(spec, settings)
    check_parallel(spec, s)
    assert s.precision is not None
    ts = tensors(spec)
    adapters_all = adapter_tensors(spec, s, ts)
    lay = layout(s)
    count = count_parameters(spec, ts)
    local = local_tensors(spec, s, ts)
    local_adapters = local_tensors(spec, s, adapters_all)
    states = model_states(spec.tie_word_embeddings, s, s.precision, lay, local, local_adapters)
    peaks = (activations or training_activations)(spec, s, adapters_all)
    trainable = sum(a.numel for a in adapters_all) if s.lora else count.total
    cd = compute_dtype(s.precision)
    fmt = get_format(weights_format(s, lay))
    return _assemble(
        count.total, trainable, states, s, peaks, peaks.note, _warnings(spec, s, adapters_all),
        states_only=False, fmt=fmt, compute=cd,
    )  # fmt: skip


def estimate_training_states_only(parameters: int, settings: TrainingSettings | None = None) -> TrainingEstimate:
    """Model states for a bare parameter count: weights, master weights, gradients, optimizer; no activations.

    Without an architecture there is no tensor list: every parameter is priced by the per-parameter
    rule of a large matrix (8-bit states, no small-tensor or factored exceptions), and no LoRA,
    tensor or pipeline split can be computed.
    """
    s = resolve_settings(None, settings)
    assert s.precision is not None
    if s.lora or s.tp > 1 or s.pp > 1:
        msg = "a bare parameter count has no architecture: LoRA, --tp and --pp need a model (catalog id or config)"
        raise SettingsError(msg)
    base = [Tensor("parameters", (parameters,), "mlp")]
    lay = layout(s)
    states = model_states(False, s, s.precision, lay, base, [], per_tensor=False)
    return _assemble(
        parameters, parameters, states, s, None, "not estimated: no architecture (a bare parameter count)", [],
        states_only=True, fmt=get_format(weights_format(s, lay)), compute=compute_dtype(s.precision),
    )  # fmt: skip
