"""Tensor- and pipeline-parallel splits: what each GPU holds of the tensor list and of the KV heads.

The rules follow vLLM's model code (vllm-project/vllm, v0.11-era ``vllm/model_executor``), which
follows Megatron-LM's layout:
- ``layers/linear.py``: column-parallel layers (q/k/v, gate/up, MLA's q_b and kv_b) split their
  output rows and their bias by ``tp``; row-parallel layers (o_proj, down_proj) split their input
  columns and keep the whole bias on every rank; ``ReplicatedLinear`` (MLA's q_a and kv_a, routers)
  is whole on every rank. ``QKVParallelLinear`` gives each rank ``max(1, kv_heads / tp)`` KV heads,
  replicating them when ``tp`` exceeds the KV heads.
- ``layers/fused_moe/layer.py``: without ``--enable-expert-parallel`` every rank holds every expert
  with its intermediate width divided by ``tp``.
- ``layers/vocab_parallel_embedding.py``: the embedding and the LM head pad the vocabulary to a
  multiple of ``DEFAULT_VOCAB_PADDING_SIZE`` (64) and give each rank ``padded / tp`` rows.
- Norms, position tables and vision towers are whole on every rank that holds them.
- ``distributed/utils.py`` ``get_pp_indices``: each pipeline stage gets ``layers // pp`` layers, and the
  remainder goes one each to the stages before the last, counting back from the second-to-last.
  The first stage holds the embedding, the last the final norm and the LM head (and the embedding
  too when it is tied to the head: ``models/llama.py`` builds it on both).
"""

from __future__ import annotations

from dataclasses import replace
from math import ceil

from vram.core.errors import SettingsError
from vram.core.params import Tensor
from vram.core.spec import ModelSpec

VOCAB_PADDING = 64
"""vllm/model_executor/layers/vocab_parallel_embedding.py ``DEFAULT_VOCAB_PADDING_SIZE``."""

_COLUMN = frozenset(
    {"attn_q", "attn_q_b", "attn_kv_b", "ffn_gate", "ffn_up", "ffn_gate_shexp", "ffn_up_shexp", "attn_sinks"}
)
"""Weights split along their output rows (and their bias with them)."""
_ROW = frozenset({"attn_output", "ffn_down", "ffn_down_shexp"})
"""Weights split along their input columns; their bias stays whole."""
_KV = frozenset({"attn_k", "attn_v"})
_FIRST_STAGE = frozenset({"token_embd", "position_embd", "token_embd_norm", "token_embd_norm.bias", "project_in"})
_LAST_STAGE = frozenset({"output_norm", "output_norm.bias", "output", "output.bias", "project_out"})
_VOCAB = frozenset({"token_embd", "output", "output.bias"})


def check_split(spec: ModelSpec, tp: int, pp: int) -> None:
    """Refuse a split vLLM refuses: ``tp`` must divide the attention heads and fit the KV heads; ``pp`` the layers."""
    if tp < 1 or pp < 1:
        msg = f"--tp and --pp must be at least 1 (got --tp {tp}, --pp {pp})"
        raise SettingsError(msg)
    if spec.num_heads % tp:
        msg = (
            f"--tp {tp} does not divide the model's {spec.num_heads} attention heads: vLLM splits heads evenly "
            f"(vllm/config/parallel.py verify_with_model_config); use a divisor such as {_divisor_hint(spec.num_heads)}"
        )
        raise SettingsError(msg)
    k = spec.num_kv_heads
    if spec.mla is None and (k % tp if tp <= k else tp % k):
        msg = (
            f"--tp {tp} does not split the model's {k} KV heads evenly: vLLM's QKVParallelLinear needs --tp to "
            f"divide them or be a multiple of them"
        )
        raise SettingsError(msg)
    if pp > spec.num_layers:
        msg = f"--pp {pp} exceeds the model's {spec.num_layers} layers: each pipeline stage needs at least one layer"
        raise SettingsError(msg)


def _divisor_hint(n: int) -> str:
    return ", ".join(str(d) for d in (1, 2, 4, 8) if n % d == 0)


def pp_layers(num_layers: int, pp: int) -> list[range]:
    """The layers of each pipeline stage, as vLLM's ``get_pp_indices`` assigns them (no custom partition)."""
    sizes = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        sizes[-i] += 1
    out, start = [], 0
    for n in sizes:
        out.append(range(start, start + n))
        start += n
    return out


def kv_heads_per_rank(spec: ModelSpec, tp: int) -> int:
    """KV heads each tensor-parallel rank caches: ``max(1, k / tp)``; MLA's one latent is on every rank."""
    if spec.mla is not None:
        return 1
    return max(1, spec.num_kv_heads // tp)


def padded_vocab(vocab: int, tp: int, multiple: int = VOCAB_PADDING) -> int:
    """Rows of the embedding / LM head on one rank: the vocabulary padded to ``multiple``, divided by ``tp``."""
    padded = ceil(vocab / multiple) * multiple
    return ceil(padded / tp)


def _base(name: str) -> tuple[str, bool]:
    """The weight a tensor belongs to and whether the tensor is that weight's bias."""
    if name.endswith(".bias"):
        return name.removesuffix(".bias"), True
    return name, False


def _split_dim(t: Tensor, dim: int, parts: int) -> Tensor:
    shape = list(t.shape)
    shape[dim] = ceil(shape[dim] / parts)
    return replace(t, shape=tuple(shape))


def shard(spec: ModelSpec, t: Tensor, tp: int, vocab_multiple: int = VOCAB_PADDING) -> Tensor:
    """The part of one tensor a tensor-parallel rank holds (the vocabulary padded to ``vocab_multiple``)."""
    if tp == 1:
        return t
    base, bias = _base(t.name)
    if t.name in _VOCAB or (base == "output" and bias):
        return replace(t, shape=(padded_vocab(t.shape[0], tp, vocab_multiple), *t.shape[1:]))
    if base == "attn_qkv":
        q = spec.q_width // tp
        kv = kv_heads_per_rank(spec, tp) * spec.head_dim
        return replace(t, shape=(q + 2 * kv, *t.shape[1:]))
    if base in _KV:
        return replace(t, shape=(kv_heads_per_rank(spec, tp) * spec.head_dim, *t.shape[1:]))
    if base in _COLUMN:
        return _split_dim(t, 0, tp)
    if base in _ROW:
        return t if bias else _split_dim(t, -1, tp)
    if t.name in ("ffn_gate_exps", "ffn_up_exps", "ffn_gate_up_exps.bias"):
        return _split_dim(t, 1, tp)  # (experts, intermediate, ...): each expert's intermediate width / tp
    if t.name == "ffn_down_exps":
        return _split_dim(t, 2, tp)
    return t  # norms, routers, MLA's replicated q_a / kv_a, position tables, vision, row-parallel biases


def on_stage(spec: ModelSpec, t: Tensor, stage: range, first: bool, last: bool) -> bool:
    """Whether a pipeline stage holds ``t``: its layers, the embedding first, the final norm and head last."""
    if t.layer is not None:
        return t.layer in stage
    if t.name in _FIRST_STAGE:
        return first or (last and t.name == "token_embd" and spec.tie_word_embeddings)
    if t.name in _LAST_STAGE:
        return last
    return first  # vision tower and projector run before the first layer


def stage_tensors(spec: ModelSpec, ts: list[Tensor], tp: int, pp: int, stage: int) -> list[Tensor]:
    """What one GPU of pipeline stage ``stage`` holds: its layers' tensors (and the ends'), each TP-sharded."""
    stages = pp_layers(spec.num_layers, pp)
    layers = stages[stage]
    first, last = stage == 0, stage == pp - 1
    return [shard(spec, t, tp) for t in ts if on_stage(spec, t, layers, first, last)]
