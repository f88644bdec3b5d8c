"""Optimizer state and step-time temporaries, per trainable tensor, for every OptimizerName.

State dtype follows torch: the states are ``zeros_like(param)``, so they take the trainable
parameter's dtype (fp32 under fp32 and the mixed precisions, bf16 under pure bf16); only
bitsandbytes fixes its own dtypes. Where a rule depends on the tensor (8-bit small tensors,
Adafactor's factored shapes, Muon's split) it is applied tensor by tensor.

Sources:
- torch 2.x ``torch/optim/adam.py`` / ``adamw.py``: ``exp_avg`` and ``exp_avg_sq`` (``zeros_like(p)``);
  the fused kernel updates in place, while ``_multi_tensor_adam`` (foreach) builds
  ``exp_avg_sq_sqrt = torch._foreach_sqrt(device_exp_avg_sqs)``, one transient copy of the second
  moment for every parameter of the group.
- bitsandbytes ``optim/optimizer.py`` ``Optimizer2State.init_state``: uint8 ``state1``/``state2``
  with an fp32 ``absmax`` per block of 256 (``blocksize=256``); tensors with fewer than
  ``min_8bit_size=4096`` elements keep fp32 states. Paged variants (``PagedAdamW8bit``) put the
  states of tensors with at least 1e5 elements in CUDA unified memory (``get_state_buffer`` ->
  ``F.get_paged``, cudaMallocManaged): outside PyTorch's allocator, on the GPU while it has room and
  evicted to the host otherwise.
- torch ``torch/optim/_adafactor.py``: for a tensor of two or more dimensions a ``row_var`` of shape
  ``shape[:-1]`` and a ``col_var`` of ``shape[:-2] + shape[-1:]``; a full ``variance`` otherwise; no
  first moment (``beta1`` absent), states in the gradient's dtype.
- torch ``torch/optim/sgd.py``: ``momentum_buffer = torch.clone(grad)`` only when momentum > 0.
- lion-pytorch ``lion_pytorch.py``: one ``exp_avg = zeros_like(p)``.
- KellerJordan/Muon ``muon.py`` and torch ``torch/optim/_muon.py``: one ``momentum_buffer`` for the
  hidden matrices (two or more dimensions); embeddings, the output head and 1-D parameters use
  AdamW. Newton-Schulz orthogonalizes each update in bf16 (``zeropower_via_newtonschulz5``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from vram.core.params import Tensor
from vram.core.training.settings import OptimizerName

BNB_BLOCK = 256
"""bitsandbytes 8-bit optimizer block: one fp32 absmax per 256 state values (optim/optimizer.py)."""
BNB_MIN_8BIT_SIZE = 4096
"""bitsandbytes ``min_8bit_size``: smaller tensors keep 32-bit states (optim/optimizer.py)."""
BNB_MIN_PAGED_SIZE = 100_000
"""bitsandbytes ``get_state_buffer``: paged optimizers page the states of tensors of at least 1e5 elements."""

MUON_ROLES = frozenset({"attention", "mlp", "expert", "shared_expert", "router"})
"""Hidden matrices that Muon orthogonalizes; everything else (embeddings, head, norms, biases) takes AdamW."""

DESCRIPTIONS: dict[OptimizerName, str] = {
    "adamw": "AdamW, fused (exp_avg + exp_avg_sq, no step-time copy)",
    "adam": "Adam, fused (exp_avg + exp_avg_sq, no step-time copy)",
    "adamw-foreach": "AdamW, foreach (exp_avg + exp_avg_sq, + a sqrt copy of exp_avg_sq at the step)",
    "adamw-8bit": "bitsandbytes AdamW8bit (uint8 states + fp32 absmax per 256; tensors < 4096 keep fp32)",
    "paged-adamw-8bit": "bitsandbytes PagedAdamW8bit (8-bit states in unified memory, evictable to the host)",
    "adafactor": "Adafactor (factored row + column second moment, no momentum)",
    "sgd": "SGD without momentum (no state)",
    "sgd-momentum": "SGD with momentum (one buffer)",
    "lion": "Lion (one exp_avg)",
    "muon": "Muon (momentum for hidden matrices, AdamW for embeddings, head and 1-D)",
}


@dataclass(frozen=True, slots=True)
class OptimizerBytes:
    """State bytes that live from the first step on, and the transient bytes of one step."""

    state: int
    step_temporary: int
    paged: int = 0
    """Part of ``state`` in CUDA unified memory (paged optimizers): evictable to the host."""


def _adam(t: Tensor, width: int) -> list[int]:
    return [t.numel * width] * 2  # exp_avg, exp_avg_sq


def _eight_bit(t: Tensor) -> list[int]:
    if t.numel < BNB_MIN_8BIT_SIZE:
        return [t.numel * 4] * 2
    absmax = 4 * ceil(t.numel / BNB_BLOCK)
    return [t.numel, t.numel, absmax, absmax]  # state1, state2 (uint8), absmax1, absmax2 (fp32)


def _adafactor(t: Tensor, width: int) -> list[int]:
    if len(t.shape) < 2:
        return [t.numel * width]  # variance
    return [t.numel // t.shape[-1] * width, t.numel // t.shape[-2] * width]  # row_var, col_var


def _muon_hidden(t: Tensor) -> bool:
    return t.role in MUON_ROLES and len(t.shape) >= 2


def state_tensors(name: OptimizerName, t: Tensor, width: int) -> list[int]:
    """Bytes of each optimizer state tensor of one trainable tensor whose parameters are ``width`` bytes wide."""
    if name in ("adamw", "adam", "adamw-foreach"):
        return _adam(t, width)
    if name in ("adamw-8bit", "paged-adamw-8bit"):
        return _eight_bit(t)
    if name == "adafactor":
        return _adafactor(t, width)
    if name in ("sgd-momentum", "lion"):
        return [t.numel * width]  # momentum_buffer / exp_avg
    if name == "muon":
        return [t.numel * width] if _muon_hidden(t) else _adam(t, width)
    return []  # sgd


def state_bytes(name: OptimizerName, t: Tensor, width: int) -> int:
    """Bytes of optimizer state for one trainable tensor whose parameters are ``width`` bytes wide."""
    return sum(state_tensors(name, t, width))


def _newton_schulz(t: Tensor) -> int:
    """bf16 transients of one Newton-Schulz iteration on the tensor's matrices: X, X@X^T, its square, B@X."""
    rows = t.shape[-2]
    cols = t.shape[-1]
    count = t.numel // (rows * cols)
    side = min(rows, cols)
    return count * 2 * (3 * rows * cols + 3 * side * side)


def optimizer_bytes(
    name: OptimizerName, trainable: list[tuple[Tensor, int]], *, per_parameter: bool = False
) -> OptimizerBytes:
    """State and step temporaries over (tensor, parameter bytes) pairs of the trainable tensors.

    ``per_parameter``: one optimizer per parameter, stepped as its gradient arrives (torchtune's
    ``optimizer_in_bwd`` builds ``{p: instantiate(cfg_optimizer, [p])}``, recipes/
    full_finetune_single_device.py ``_setup_optimizer``), so a foreach step's copy covers a single
    tensor, the largest, instead of the whole group.
    """
    state = sum(state_bytes(name, t, b) for t, b in trainable)
    temporary = 0
    if name == "adamw-foreach":
        copies = [t.numel * b for t, b in trainable]
        temporary = max(copies, default=0) if per_parameter else sum(copies)
    elif name == "muon":
        temporary = max((_newton_schulz(t) for t, _ in trainable if _muon_hidden(t)), default=0)
    paged = 0
    if name == "paged-adamw-8bit":
        # state1/state2 (uint8) are paged; the fp32 absmax buffers are ordinary tensors.
        paged = sum(2 * t.numel for t, _ in trainable if t.numel >= BNB_MIN_PAGED_SIZE)
    return OptimizerBytes(state=state, step_temporary=temporary, paged=paged)


def bytes_per_parameter(name: OptimizerName, dtype_bytes: int) -> float:
    """State bytes per parameter without per-tensor rules (a large 2-D tensor), for a bare count."""
    big = Tensor("w", (1 << 12, 1 << 12), "mlp")
    return state_bytes(name, big, dtype_bytes) / big.numel
