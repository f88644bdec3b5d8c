"""Model states on one GPU: weights, master weights, gradients and optimizer state, moment by moment.

Which copies exist depends on the precision and on the engine that holds them:
- ``fp32``: fp32 weights trained directly, fp32 gradients, fp32 states.
- ``bf16-mixed`` / ``fp16-mixed`` on one GPU, DDP or FSDP: fp32 weights (they are the master copy:
  the ``master_weights`` line stays 0), fp32 gradients and states, as HF Trainer / torch AMP keep
  them. Autocast casts each weight a matmul uses to 16 bits once per forward and caches the cast
  of a leaf that requires grad (torch ``aten/src/ATen/autocast_mode.cpp`` ``cached_cast``); the
  casts are saved for backward, so they stay alive from the forward to the backward. FSDP casts
  the gathered units instead (``MixedPrecisionPolicy.param_dtype``).
- the mixed precisions under DeepSpeed ZeRO: 16-bit weights and gradients plus an fp32 master
  partition (ZeRO paper section 5: K = 12 bytes of fp32 master, momentum and variance). At the step
  DeepSpeed also converts the gradient partition to fp32 (``single_grad_partition``), attached to the
  master for the optimizer and dropped after it (deepspeed/runtime/zero/stage_1_and_2.py ``step``,
  "Step 4: get rid of the fp32 gradients"): an implementation extra over the paper, counted at the step.
- ``bf16``: bf16 weights, gradients and states (torchtune ``dtype: bf16``); no master copy.

LoRA freezes the base (no gradient or state) and trains adapters, fp32 under fp32 and the mixed
precisions (PEFT ``autocast_adapter_dtype=True``, peft tuners_utils ``cast_adapter_dtype``) and
bf16 under pure bf16 (torchtune). QLoRA stores the base Linears in NF4 with double quantization and
casts every other parameter to fp32 under the mixed precisions (peft ``utils/other.py``
``prepare_model_for_kbit_training``); each matmul dequantizes its weight to the compute dtype
(bitsandbytes ``MatMul4Bit``), one weight at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vram.core.dtypes import FLOAT_BYTES, float_name, get_format, quantized_bytes
from vram.core.errors import SettingsError
from vram.core.params import MATRIX_ROLES, Tensor
from vram.core.spec import ModelSpec
from vram.core.training.optimizers import (
    DESCRIPTIONS,
    OptimizerBytes,
    bytes_per_parameter,
    optimizer_bytes,
    state_tensors,
)
from vram.core.training.settings import Precision, TrainingSettings
from vram.core.training.sharding import Layout, shard
from vram.core.units import GiB, binary_size

Moment = Literal["forward", "backward_start", "backward_end", "optimizer_step"]
MOMENTS: tuple[Moment, ...] = ("forward", "backward_start", "backward_end", "optimizer_step")
"""The moments a peak can fall on: the end of forward, the start and the end of backward, the step."""

QLORA_FORMAT = "nf4-dq"
"""QLoRA's base format: NF4 with double quantization (Dettmers et al. 2023, arXiv 2305.14314)."""

DEEPSPEED_REDUCE_BUCKET = 500_000_000
"""DeepSpeed ``reduce_bucket_size`` default, in elements (deepspeed/runtime/zero/config.py
``ZeroConfig.reduce_bucket_size = 5e8``): the contiguous gradient buffer that stages 2 and 3 fill
during backward (``contiguous_gradients``)."""

_NOT_CAST = frozenset({"embedding", "position", "norm", "sinks"})
"""Roles that autocast leaves in their own dtype (embedding lookups, norms); everything else feeds a matmul."""


def compute_dtype(precision: Precision) -> str:
    """The dtype activations and autocast casts use under a precision."""
    return {"fp32": "fp32", "bf16-mixed": "bf16", "fp16-mixed": "fp16", "bf16": "bf16"}[precision]


def default_precision(spec: ModelSpec) -> Precision:
    """The mixed precision of the checkpoint's dtype: bf16 -> bf16-mixed, fp16 -> fp16-mixed, else fp32."""
    own = float_name(spec.torch_dtype)
    if own == "bf16":
        return "bf16-mixed"
    if own == "fp16":
        return "fp16-mixed"
    return "fp32"


def adapter_bytes(settings: TrainingSettings, precision: Precision) -> int:
    """Bytes per adapter parameter: --adapter-dtype, else fp32 (fp32 and mixed) or bf16 (pure bf16)."""
    if settings.adapter_dtype is not None:
        name = float_name(settings.adapter_dtype)
        if name is None or name == "fp64":
            msg = f"unknown --adapter-dtype {settings.adapter_dtype!r}: use fp32, bf16 or fp16"
            raise SettingsError(msg)
        return FLOAT_BYTES[name]
    return 2 if precision == "bf16" else 4


def weights_format(settings: TrainingSettings, layout: Layout) -> str:
    """The format name of the (base) weights: nf4-dq under QLoRA, the compute dtype for a frozen base,
    DeepSpeed's 16-bit copy and pure bf16, else fp32 (the master copy under autocast)."""
    precision = settings.precision or "fp32"
    if settings.qlora:
        return QLORA_FORMAT
    cd = compute_dtype(precision)
    if settings.lora or precision == "bf16" or layout.engine == "deepspeed":
        return cd
    return "fp32"


@dataclass(slots=True)
class Part:
    """One model-state component: bytes at each moment, a note and per-part details."""

    by_moment: dict[Moment, int]
    note: str
    details: dict[str, int | float | str] = field(default_factory=dict)


@dataclass(slots=True)
class ModelStates:
    """The four model-state components on one GPU, and what they were computed from."""

    weights: Part
    master_weights: Part
    gradients: Part
    optimizer: Part
    trainable_local: int
    cpu_bytes: int
    allocations: list[int]
    """Sizes of the per-tensor allocations (weights, gradients, states) for the allocator's rounding."""


@dataclass(frozen=True, slots=True)
class _Held:
    """One local tensor as training holds it."""

    tensor: Tensor
    stored: int
    """Bytes of the persistent copy (before any data-parallel sharding)."""
    trainable: bool
    param_bytes: int
    """Bytes per element of the trainable copy the optimizer updates (0 when frozen)."""
    cast: bool
    """A matmul weight whose dtype is not the compute dtype: a 16-bit cast of it is alive in forward/backward."""


def _hold(
    tied: bool, settings: TrainingSettings, precision: Precision, layout: Layout, base: list[Tensor],
    adapters: list[Tensor],
) -> list[_Held]:  # fmt: skip
    cd = FLOAT_BYTES[compute_dtype(precision)]
    mixed = precision in ("bf16-mixed", "fp16-mixed")
    deepspeed_16 = layout.engine == "deepspeed" and mixed
    autocast = mixed and layout.engine in ("torch", "ddp")
    held: list[_Held] = []
    if not settings.lora:
        pb = cd if deepspeed_16 or precision == "bf16" else 4
        for t in base:
            cast = autocast and _matmul(tied, t)
            held.append(_Held(t, t.numel * pb, trainable=True, param_bytes=pb, cast=cast))
        return held
    frozen = cd
    qfmt = get_format(QLORA_FORMAT) if settings.qlora else None
    for t in base:
        if qfmt is not None and t.role in MATRIX_ROLES - {"expert"}:
            held.append(_Held(t, quantized_bytes(qfmt, t), trainable=False, param_bytes=0, cast=False))
            continue
        own = 4 if qfmt is not None and precision != "bf16" else frozen
        cast = autocast and own != cd and _matmul(tied, t)
        held.append(_Held(t, t.numel * own, trainable=False, param_bytes=0, cast=cast))
    ab = cd if deepspeed_16 else adapter_bytes(settings, precision)
    held += [_Held(a, a.numel * ab, trainable=True, param_bytes=ab, cast=autocast and ab != cd) for a in adapters]
    return held


def _matmul(tied: bool, t: Tensor) -> bool:
    """True for weights a matmul reads (a tied embedding is also the output head's weight)."""
    if t.role == "embedding":
        return tied
    return t.role not in _NOT_CAST


def _cast_copies(held: list[_Held], cd: int, checkpointing: bool) -> tuple[int, int, str]:
    """Bytes of the 16-bit weight casts alive at the end of forward and at the start of backward, and how.

    Without checkpointing each cast is saved for backward (the matmul keeps its weight operand). With it,
    the checkpointed layers save nothing, but autocast caches the cast of every trainable fp32 leaf weight
    until its outermost region exits (``cached_cast`` in aten/src/ATen/autocast_mode.cpp needs
    ``requires_grad``; ``torch.autocast.__exit__`` clears the cache), and the loss is computed inside that
    region: at the end of forward those casts are alive, beside the head's saved one. In backward the head's
    cast and those of the one layer being recomputed are alive.
    """
    casts = [h for h in held if h.cast]
    every = sum(h.tensor.numel for h in casts) * cd
    if not checkpointing:
        return every, every, "saved from forward to backward"
    outside = [h for h in casts if h.tensor.layer is None]
    cached = sum(h.tensor.numel for h in casts if h.trainable and h.tensor.layer is not None)
    per_layer: dict[int, int] = {}
    for h in casts:
        if h.tensor.layer is not None:
            per_layer[h.tensor.layer] = per_layer.get(h.tensor.layer, 0) + h.tensor.numel
    head = sum(h.tensor.numel for h in outside)
    forward = (head + cached) * cd
    backward = (head + max(per_layer.values(), default=0)) * cd
    how = "the trainable ones cached until forward's autocast region exits, then the head's + one recomputed layer's"
    return forward, backward, how


def _working(h: _Held, cd: int) -> int:
    """Bytes of a tensor's gathered working copy: its stored bytes, cast down to the compute dtype when wider."""
    return min(h.stored, h.tensor.numel * cd)


def _units(held: list[_Held], cd: int) -> tuple[int, list[int]]:
    """Working bytes of the FSDP root (everything outside the layers) and of each decoder layer, largest first."""
    root = 0
    layers: dict[int, int] = {}
    for h in held:
        if h.tensor.layer is None:
            root += _working(h, cd)
        else:
            layers[h.tensor.layer] = layers.get(h.tensor.layer, 0) + _working(h, cd)
    return root, sorted(layers.values(), reverse=True)


def model_states(
    tied: bool, settings: TrainingSettings, precision: Precision, layout: Layout, base: list[Tensor],
    adapters: list[Tensor], *, per_tensor: bool = True,
) -> ModelStates:  # fmt: skip
    """Weights, master weights, gradients and optimizer state on one GPU at each moment.

    ``per_tensor`` False (a bare parameter count): ``base`` is one tensor holding every parameter;
    per-tensor rules (gathered modules, 8-bit small tensors, Adafactor's factors) cannot apply, so
    optimizer state uses the per-parameter rate of a large matrix and module extras are left out.
    """
    cd_name = compute_dtype(precision)
    cd = FLOAT_BYTES[cd_name]
    n = layout.ranks
    held = _hold(tied, settings, precision, layout, base, adapters)
    trainable = [h for h in held if h.trainable]
    offload_opt = settings.offload in ("optimizer", "params")
    offload_params = settings.offload == "params"
    mixed = precision in ("bf16-mixed", "fp16-mixed")
    deepspeed_16 = layout.engine == "deepspeed" and mixed

    # weights: the persistent copy, then what forward/backward add (casts, gathered units, dequantization)
    stored = sum(h.stored for h in held)
    persistent = 0 if offload_params else shard(stored, n, layout.params_sharded)
    cast_bytes, cast_back, cast_how = _cast_copies(held, cd, settings.grad_checkpointing != "none")
    w_details: dict[str, int | float | str] = {"stored_bytes": persistent}
    w_parts = [_weights_line(held, settings, precision, layout)]
    if cast_bytes:
        w_details["autocast_copies_bytes"] = cast_bytes
        w_details["autocast_copies_in_backward_bytes"] = cast_back
        w_parts.append(f"+ {binary_size(cast_bytes)} of {cd_name} casts, {cast_how}")
    gathered = 0
    if not per_tensor:
        w_parts.append("no per-module extras (gathered units, dequantized weights) without an architecture")
    elif layout.engine == "fsdp":
        root, layers = _units(held, cd)
        if settings.fsdp == "full":
            gathered = root + sum(layers[:2])
            w_parts.append(
                f"+ unsharded in {cd_name}: the root unit (embeddings, head; FSDP keeps the root gathered between "
                "forward and backward) and 2 decoder layers (current + prefetch)"
            )
        else:
            gathered = root + sum(layers)
            w_parts.append(f"+ the unsharded {cd_name} parameters, kept from forward to backward (SHARD_GRAD_OP)")
    elif layout.engine == "deepspeed" and settings.zero == 3:
        largest = max(held, key=lambda h: h.tensor.numel, default=None)
        gathered = 0 if largest is None else _working(largest, cd)
        w_parts.append("+ the largest module gathered (DeepSpeed estimate_zero3_model_states_mem_needs)")
    if gathered:
        w_details["gathered_bytes"] = gathered
    dequant = 0
    if settings.qlora and per_tensor:
        quantized = [h.tensor.numel for h in held if not h.trainable and h.tensor.role in MATRIX_ROLES - {"expert"}]
        dequant = max(quantized, default=0) * cd
        w_details["dequantized_weight_bytes"] = dequant
        w_parts.append(f"+ one dequantized {cd_name} weight at a time")
    weights = Part(
        {"forward": persistent + cast_bytes + gathered + dequant,
         "backward_start": persistent + cast_back + gathered + dequant,
         "backward_end": persistent + gathered + dequant, "optimizer_step": persistent},
        "; ".join(w_parts), w_details,
    )  # fmt: skip

    # master weights: a separate fp32 copy only under DeepSpeed's 16-bit engine
    params_trainable = sum(h.tensor.numel for h in trainable)
    if deepspeed_16:
        master_full = 4 * params_trainable
        master = 0 if offload_opt else shard(master_full, n, True)
        m_note = f"fp32 master partition, 1/{n} of {master_full / GiB:.2f} GiB (DeepSpeed keeps 16-bit weights)"
        if offload_opt:
            m_note = "fp32 master copy offloaded to the CPU"
    elif settings.lora:
        master = 0
        m_note = "none: the adapters are trained in their own dtype and the frozen base needs no master copy"
    else:
        master = 0
        m_note = {
            "fp32": "none: the fp32 weights are trained directly",
            "bf16": "none: pure bf16 weights are updated in place (torchtune)",
        }.get(precision, "none: the fp32 weights are the master copy (torch AMP autocast)")
    master_part = Part(dict.fromkeys(MOMENTS, master), m_note, {"fp32_master_bytes": master})

    # gradients
    grad_full = sum(h.tensor.numel * h.param_bytes for h in trainable)
    grads = shard(grad_full, n, layout.grads_sharded)
    largest_grad = max((h.tensor.numel * h.param_bytes for h in trainable), default=0)
    g_details: dict[str, int | float | str] = {"gradient_bytes": grads}
    widths = sorted({h.param_bytes for h in trainable})
    g_parts = [f"{params_trainable:,} trainable params x {'/'.join(map(str, widths)) or 0} B"]
    if layout.grads_sharded and n > 1:
        g_parts.append(f"1/{n} per rank")
    persistent_g = 0
    if layout.engine == "ddp":
        persistent_g = grad_full
        g_details["ddp_bucket_bytes"] = grad_full
        g_parts.append("x2: DDP's buckets hold a second copy (gradient_as_bucket_view=False)")
    backward_extra = 0
    fp32_partition = 0
    if layout.engine == "deepspeed":
        if settings.zero >= 2:
            bucket = min(DEEPSPEED_REDUCE_BUCKET, params_trainable) * cd
            backward_extra += bucket
            g_details["reduce_bucket_bytes"] = bucket
            g_parts.append(f"+ reduce bucket {bucket / GiB:.2f} GiB")
        if settings.zero == 3 and per_tensor:
            layer = max((h.tensor.numel for h in trainable), default=0) * cd
            backward_extra += layer
            g_details["gathered_gradient_bytes"] = layer
        if deepspeed_16 and not offload_opt:
            fp32_partition = shard(4 * params_trainable, n, True)
            g_details["fp32_partition_bytes"] = fp32_partition
            g_parts.append("+ the fp32 gradient partition at the step (DeepSpeed, not in the ZeRO paper)")
    elif layout.engine == "fsdp" and per_tensor:
        unit_grads = max(_units(trainable, cd)[1], default=0)
        backward_extra += unit_grads
        g_details["unsharded_unit_gradient_bytes"] = unit_grads
    if offload_opt:
        g_parts.append("the reduced gradient partition goes to the CPU with the optimizer")
        accumulated, start, end, step = 0, 0, 0, 0
    elif settings.optimizer_in_backward:
        alive = shard(largest_grad, n, layout.grads_sharded)
        g_parts.append("only one parameter's gradient alive (optimizer step in backward)")
        accumulated, end, step = 0, alive, 0
        start = alive
    else:
        accumulated = grads if settings.grad_accum > 1 else 0
        start = max(accumulated, min(grads, shard(largest_grad, n, layout.grads_sharded)))
        end = grads
        step = grads + fp32_partition
        if accumulated:
            g_parts.append(f"accumulated over {settings.grad_accum} micro-batches: alive through forward")
    gradients = Part(
        {"forward": persistent_g + accumulated, "backward_start": persistent_g + start + backward_extra,
         "backward_end": persistent_g + end + backward_extra, "optimizer_step": persistent_g + step},
        "; ".join(g_parts), g_details,
    )  # fmt: skip

    # optimizer state (fp32 under DeepSpeed's master copy) and the step's temporaries
    opt_pairs = [(h.tensor, 4 if deepspeed_16 else h.param_bytes) for h in trainable]
    ob = optimizer_bytes(settings.optimizer, opt_pairs, per_parameter=settings.optimizer_in_backward)
    if not per_tensor:
        rate = sum(bytes_per_parameter(settings.optimizer, b) * t.numel for t, b in opt_pairs)
        ob = OptimizerBytes(state=round(rate), step_temporary=ob.step_temporary if settings.optimizer != "muon" else 0)
    o_state = shard(ob.state, n, layout.optimizer_sharded)
    o_temp = shard(ob.step_temporary, n, layout.optimizer_sharded)
    o_details: dict[str, int | float | str] = {"state_bytes": o_state, "step_temporary_bytes": o_temp}
    o_note = DESCRIPTIONS[settings.optimizer]
    cpu = 0
    if offload_opt:
        # states, DeepSpeed's fp32 master and the gradient partition (fp32 under DeepSpeed's 16-bit engine)
        host_grads = 4 * params_trainable if deepspeed_16 else grad_full
        cpu_states = shard(ob.state + (4 * params_trainable if deepspeed_16 else 0) + host_grads, n, True)
        if offload_params:
            cpu_states += shard(stored, n, True)
        cpu = cpu_states * 3 // 2
        o_details["cpu_bytes"] = cpu
        o_note += f"; on the CPU ({cpu / GiB:.2f} GiB with DeepSpeed's additional_buffer_factor 1.5)"
        o_state, o_temp = 0, 0
    elif layout.optimizer_sharded and n > 1:
        o_note += f"; 1/{n} per rank"
    if ob.paged and not offload_opt:
        paged = shard(ob.paged, n, layout.optimizer_sharded)
        o_state -= paged
        cpu += paged
        o_details["paged_state_bytes"] = paged
        o_note += (
            f"; {paged / GiB:.2f} GiB of paged states in CUDA unified memory, outside PyTorch's allocator: "
            "not counted here, they use free GPU memory or the host (in cpu_bytes)"
        )
    in_bwd = settings.optimizer_in_backward
    optimizer = Part(
        {"forward": o_state, "backward_start": o_state, "backward_end": o_state + (o_temp if in_bwd else 0),
         "optimizer_step": o_state + (0 if in_bwd else o_temp)},
        o_note, o_details,
    )  # fmt: skip

    allocations: list[int] = []
    if not layout.params_sharded:
        allocations += [h.stored for h in held]
    if not layout.grads_sharded:
        allocations += [h.tensor.numel * h.param_bytes for h in trainable]
    if not layout.optimizer_sharded:
        allocations += [x for t, b in opt_pairs for x in state_tensors(settings.optimizer, t, b)]
    return ModelStates(
        weights=weights,
        master_weights=master_part,
        gradients=gradients,
        optimizer=optimizer,
        trainable_local=params_trainable,
        cpu_bytes=cpu,
        allocations=allocations,
    )


def _weights_line(held: list[_Held], settings: TrainingSettings, precision: Precision, layout: Layout) -> str:
    """Which weight copies exist: the first clause of the weights note."""
    frozen = sum(h.tensor.numel for h in held if not h.trainable)
    where = layout.describe(settings)
    if not settings.lora:
        return f"{weights_format(settings, layout)} weights, all trainable ({where})"
    base = "NF4 (double quant) base Linears + other params" if settings.qlora else "frozen base"
    return f"{base} ({frozen:,} params) + adapters ({where})"
