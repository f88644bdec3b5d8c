"""How the model states split over GPUs: Megatron TP/PP, then ZeRO / FSDP / DDP over data parallel.

Tensor and pipeline parallelism change which tensors a GPU holds, so they act on the tensor list
(``local_tensors``); ZeRO and FSDP divide the states of those tensors over the data-parallel ranks
(``Layout``). Sources:
- Megatron-LM ``megatron/training/theoretical_memory_usage.py``: attention and dense MLP weights are
  divided by the tensor-parallel size, norms and the router are replicated, the embedding and the
  output layer are vocab-parallel; the most loaded pipeline stage holds L/pp layers plus the
  embedding (plus the output layer when pp is 1). ``megatron/core/transformer/transformer_config.py``
  requires ``num_attention_heads`` and ``num_query_groups`` to be divisible by the tensor-parallel size.
- ZeRO (Rajbhandari et al. 2019, arXiv 1910.02054, section 5 and Figure 1): stage 1 partitions the
  optimizer states, stage 2 also the gradients, stage 3 also the parameters.
- PyTorch FSDP (``torch.distributed.fsdp``): FULL_SHARD shards parameters, gradients and optimizer
  states like ZeRO-3; SHARD_GRAD_OP keeps the parameters unsharded between forward and backward,
  like ZeRO-2.
- DDP (``torch/nn/parallel/distributed.py``): with the default ``gradient_as_bucket_view=False`` the
  reducer's buckets hold a second copy of every gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil
from typing import Literal

from vram.core import parallel
from vram.core.errors import SettingsError
from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.settings import TrainingSettings

Engine = Literal["torch", "ddp", "deepspeed", "fsdp"]

MEGATRON_VOCAB_MULTIPLE = 128
"""Megatron pads the vocabulary to a multiple of ``make_vocab_size_divisible_by`` (128) x the tensor-parallel
size (megatron/training/arguments.py; tokenizer ``_vocab_size_with_padding``), then splits it evenly."""


def check_parallel(spec: ModelSpec, settings: TrainingSettings) -> None:
    """Refuse a tensor-parallel size that does not divide the heads, or more stages than layers."""
    tp, pp = settings.tp, settings.pp
    if spec.num_heads % tp or (spec.mla is None and spec.num_kv_heads % tp):
        kv = "" if spec.mla is not None else f" and {spec.num_kv_heads} KV heads"
        msg = (
            f"--tp {tp} does not divide the model's {spec.num_heads} attention heads{kv} "
            "(Megatron splits whole heads): choose a divisor"
        )
        raise SettingsError(msg)
    if pp > spec.num_layers:
        msg = f"--pp {pp} exceeds the model's {spec.num_layers} layers: at most one stage per layer"
        raise SettingsError(msg)


def _tp_split(spec: ModelSpec, t: Tensor, tp: int) -> Tensor:
    """One tensor-parallel rank's part of ``t``: Megatron's column/row layout (as vLLM's, ``core/parallel.py``),
    with Megatron's vocabulary padding; LoRA adapters follow their base layer."""
    if tp == 1:
        return t
    if t.name.endswith((".lora_a", ".lora_b")):
        # peft tuners/lora/tp_layer.py: a column-parallel base splits lora_B along its output and keeps
        # lora_A whole; a row-parallel base splits lora_A along its input and keeps lora_B whole.
        row = t.name.split(".")[2] in ("o", "down")
        if t.name.endswith(".lora_a"):
            return _split(t, -1, tp) if row else t
        return t if row else _split(t, -2, tp)
    return parallel.shard(spec, t, tp, MEGATRON_VOCAB_MULTIPLE * tp)


def _split(t: Tensor, dim: int, parts: int) -> Tensor:
    shape = list(t.shape)
    shape[dim] = ceil(shape[dim] / parts)
    return replace(t, shape=tuple(shape))


def stage_layers(spec: ModelSpec, pp: int) -> int:
    """Decoder layers on a full pipeline stage: ceil(L / pp), as the first stages hold them."""
    return ceil(spec.num_layers / pp)


def local_tensors(spec: ModelSpec, settings: TrainingSettings, ts: list[Tensor]) -> list[Tensor]:
    """The tensors one GPU of the most loaded pipeline stage holds, each divided as tensor parallelism divides it.

    Stages hold ceil(L / pp) consecutive layers each. The first stage is the most loaded (Megatron's
    ``theoretical_memory_usage.py``: the embedding, and under 1F1B the most micro-batches in flight) unless
    a later stage's decoder layers hold more parameters, as when the first layers are dense and the
    others MoE (DeepSeek-V3).
    """
    n = stage_layers(spec, settings.pp)
    stages = [range(k, min(k + n, spec.num_layers)) for k in range(0, spec.num_layers, n)]
    best: list[Tensor] = []
    best_numel = -1
    for k, stage in enumerate(stages):
        first, last = k == 0, k == len(stages) - 1
        held = [_tp_split(spec, t, settings.tp) for t in ts if parallel.on_stage(spec, t, stage, first, last)]
        numel = sum(t.numel for t in held if t.layer is not None)
        if numel > best_numel:
            best, best_numel = held, numel
    return best


@dataclass(frozen=True, slots=True)
class Layout:
    """Over how many ranks each model state is divided on one GPU, and by which engine."""

    engine: Engine
    ranks: int
    """Data-parallel ranks that share the sharded states."""
    params_sharded: bool
    grads_sharded: bool
    optimizer_sharded: bool

    def describe(self, settings: TrainingSettings) -> str:
        """One line: which states are sharded over how many ranks, which replicated."""
        names = {"params": self.params_sharded, "gradients": self.grads_sharded, "optimizer": self.optimizer_sharded}
        sharded = [k for k, v in names.items() if v]
        kept = [k for k, v in names.items() if not v]
        how = {"torch": "one GPU", "ddp": "DDP", "deepspeed": f"ZeRO-{settings.zero}", "fsdp": f"FSDP {settings.fsdp}"}
        parts = [how[self.engine]]
        if sharded:
            parts.append(f"{', '.join(sharded)} sharded over {self.ranks} ranks")
        if kept and self.ranks > 1:
            parts.append(f"{', '.join(kept)} replicated")
        if settings.tp > 1 or settings.pp > 1:
            parts.append(f"tp {settings.tp} x pp {settings.pp} (most loaded stage)")
        return "; ".join(parts)


def layout(settings: TrainingSettings) -> Layout:
    """The data-parallel layout the settings describe."""
    n = settings.data_parallel
    if settings.zero:
        z = settings.zero
        return Layout("deepspeed", n, params_sharded=z >= 3, grads_sharded=z >= 2, optimizer_sharded=True)
    if settings.fsdp != "none":
        return Layout("fsdp", n, params_sharded=settings.fsdp == "full", grads_sharded=True, optimizer_sharded=True)
    engine: Engine = "ddp" if n > 1 else "torch"
    return Layout(engine, n, params_sharded=False, grads_sharded=False, optimizer_sharded=False)


def shard(nbytes: int, ranks: int, sharded: bool) -> int:
    """Bytes one rank holds of a state of ``nbytes``: ceil(nbytes / ranks) when sharded."""
    return -(-nbytes // ranks) if sharded else nbytes
