"""Training activations: what autograd saves for backward, per layer and for the head and loss.

A component form, tensor by tensor, of what transformers' decoder blocks save in training
(``saved_tensors_hooks`` with storages de-duplicated): each norm's fp32 input and statistics, each
Linear's input, the attention kernel's q, k, v, output and softmax statistics (or, eager, the
s x s scores), the MLP's intermediates, MoE routing and the top-k expert rows, then the head: the
final norm, the lm_head input and the fp32 log-softmax of ``ForCausalLMLoss``. Checked tensor by
tensor against transformers 5.23 + torch 2.13 on CPU (scripts/measure_training.py, output in
tests/core/data/training_oracle.json); Korthikanti et al. 2022 (arXiv 2205.05198, Table 2) is the
cross-check for their GPT layer. Where CUDA saves otherwise than CPU (dropout masks, LayerNorm
statistics, SDPA with dropout), the model follows CUDA and the tests name the CPU difference.

Precision decides the dtypes: fp32 computes and keeps everything in fp32; pure bf16 keeps bf16
activations with RMSNorm's fp32 upcast; autocast (bf16-/fp16-mixed) keeps an fp32 residual stream
and norms, 16-bit matmul outputs, and a 16-bit cast of each Linear's fp32 input per Linear (autocast
caches only casts of trainable leaf weights, torch aten/src/ATen/autocast_mode.h ``cached_cast``).
Autocast's 16-bit copies of the weights, also saved for backward, scale with the parameters and are
counted with the weights (``vram.core.training.states``), not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from pydantic import BaseModel, ConfigDict

from vram.core.errors import SettingsError
from vram.core.inference import activations
from vram.core.params import Tensor
from vram.core.spec import ModelSpec
from vram.core.training.lora import target_of
from vram.core.training.settings import TrainingSettings
from vram.core.training.states import adapter_bytes

CHUNKED_LOSS_CHUNKS = 8
"""``--loss chunked``: torchtune's CEWithChunkedOutputLoss ``num_output_chunks=8``, which upcasts and
runs cross-entropy one token chunk at a time (pytorch/torchtune torchtune/modules/loss/
ce_chunked_output_loss.py; torchtune PR 1390). Fused as torchtune's recipes run it (``compile: True``
compiles ``compute_cross_entropy``, torchtune/training/_compile.py ``compile_loss``) and as Liger's
kernels do, the loss keeps the 16-bit logits and a logsumexp per row for backward instead of an fp32
log-softmax (4 bytes per logit): see ``_loss``."""

STATS_BYTES = 4
"""RMSNorm's saved ``rsqrt(variance)`` per row, fp32 (transformers ``LlamaRMSNorm.forward``); also
each fp32 LayerNorm statistic (mean, rstd: torch ``native_layer_norm`` keeps the accumulate type)."""

LABEL_BYTES = 8
"""int64 ids: the embedding's saved indices and the loss's shifted labels, per token."""

DROPOUT_MASK_BYTES = 1
"""torch's fused ``native_dropout`` on CUDA saves a bool mask, one byte per element
(aten/src/ATen/native/Dropout.cpp ``is_fused_kernel_acceptable``; Korthikanti et al. count it too)."""

ROUTING_BYTES_PER_SLOT = 40
"""MoE bookkeeping per token and expert slot, measured in transformers 5.23's ``grouped_mm`` path
(integrations/moe.py): the int64 top-k index, two int64 sort/gather indices, the int64 scatter index
and the fp32 routing weight and its clone (8 x 4 + 4 x 2)."""

SOFTCAP_MODELS = frozenset({"gemma2"})
"""Gemma 2 soft-caps the attention scores and the final logits with ``tanh`` (config
``attn_logit_softcapping`` 50, ``final_logit_softcapping`` 30), saving the tanh output of each."""

LOW_PRECISION_SOFTMAX = frozenset({"gpt2"})
"""Eager attention whose softmax runs in the compute dtype (``GPT2Attention``); the others upcast the
scores to fp32 (``softmax(..., dtype=torch.float32)`` in ``eager_attention_forward``)."""

PYTHON_GELU = frozenset({"gpt2"})
"""``gelu_new`` (NewGELUActivation) written as tensor ops: it saves its input, the tanh output,
``1 + tanh`` and ``0.5 x``, three intermediate-wide tensors more than a fused activation."""

DROPOUT: dict[str, float] = {"gpt2": 0.1}
"""Dropout that a model's config turns on by default (GPT-2 ``resid_pdrop``/``attn_pdrop``/``embd_pdrop``)."""

GEMMA_NORM_PREFIX = "gemma"
"""Gemma's RMSNorm scales by ``1 + weight`` in fp32 (``Gemma2RMSNorm``): it saves the fp32 normalized
input, where Llama's saves it in the input dtype."""


class ActivationPeaks(BaseModel):
    """Activation bytes on one GPU (the most loaded pipeline stage), at the moments that matter."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    saved_bytes: int
    """Tensors saved for backward, alive when forward ends (checkpointed inputs included, offloaded
    ones excluded), with what the loss keeps (the fp32 log-softmax)."""
    forward_extra_bytes: int
    """Transient above ``saved_bytes`` at the forward peak (the logits and their fp32 upcast)."""
    backward_extra_bytes: int
    """Transient above ``saved_bytes`` at the backward peak (the logits' gradient, or one layer's
    recompute and activation gradients)."""
    cpu_bytes: int
    """Host memory holding offloaded activations (--activation-offload), else 0."""
    note: str
    details: dict[str, int | float | str]


@dataclass(frozen=True, slots=True)
class _Dtypes:
    """Bytes per element of the tensors a precision produces."""

    residual: int  # the residual stream and the norms' outputs (the parameter dtype)
    compute: int  # matmul and attention outputs
    autocast: bool  # a 16-bit cast of each fp32 Linear input, per Linear
    adapter: int  # LoRA adapter weights (PEFT casts each adapted module's input to it)


def _dtypes(settings: TrainingSettings) -> _Dtypes:
    """Element sizes under the settings' precision.

    The residual stream has the dtype of the embeddings and norms: fp32 under fp32 and autocast
    (fp32 weights), 16-bit under pure bf16 and for LoRA's frozen 16-bit base, fp32 again under QLoRA,
    whose ``prepare_model_for_kbit_training`` casts the embeddings and norms to fp32 (peft utils/other.py).
    """
    precision = settings.precision or "bf16-mixed"
    autocast = precision.endswith("-mixed")
    fp32_stream = precision == "fp32" or (autocast and (settings.qlora or not settings.lora))
    compute = 4 if precision == "fp32" else 2
    return _Dtypes(4 if fp32_stream else 2, compute, autocast, adapter_bytes(settings, precision))


@dataclass(frozen=True, slots=True)
class _Lora:
    """Which modules of each layer carry an adapter, and their rank (empty: full fine-tuning)."""

    targets: dict[int, frozenset[str]]
    rank: int
    dropout: bool = False  # lora_dropout > 0: an nn.Dropout before each lora_A

    @property
    def on(self) -> bool:
        return bool(self.targets)

    def adapted(self, layer: int, modules: Sequence[str]) -> list[str]:
        """The modules among ``modules`` with an adapter in ``layer`` (a fused module is adapted when
        any of the targets it fuses is: PEFT wraps the one Linear)."""
        own = self.targets.get(layer, frozenset())
        return [m for m in modules if own & _FUSED.get(m, frozenset({m}))]


_FUSED: dict[str, frozenset[str]] = {"qkv": frozenset({"q", "k", "v"}), "gate_up": frozenset({"gate", "up"})}


def _lora(adapters: Sequence[Tensor], *, dropout: bool = False) -> _Lora:
    """Adapted modules per layer, from the ``blk.{i}.{target}.lora_a`` tensors and their rank."""
    targets: dict[int, set[str]] = {}
    rank = 0
    for t in adapters:
        if t.layer is None or not t.name.endswith(".lora_a"):
            continue
        targets.setdefault(t.layer, set()).add(target_of(t))
        rank = max(rank, t.shape[-2])
    return _Lora({i: frozenset(s) for i, s in targets.items()}, rank, dropout)


def _linear_inputs(x_bytes: int, width: int, modules: Sequence[str], layer: int, d: _Dtypes, lora: _Lora,
                   *, kept: bool = False, grad: bool = True) -> int:  # fmt: skip
    """Bytes per token the Linears reading one input tensor save for it (and their adapters' middle).

    Full fine-tuning: every Linear saves its input to compute its weight gradient; they share one
    tensor, except under autocast, where each Linear saves its own 16-bit cast of an fp32 input.
    LoRA: a frozen Linear saves nothing for its input; each adapted module saves the input of its
    ``lora_A`` (shared when already in the adapter dtype, else its own cast: PEFT ``_cast_input_dtype``,
    then autocast's 16-bit cast) and the rank-wide input of its ``lora_B``. ``kept``: another op already
    saves this very tensor (the attention output that o_proj reads).

    LoRA dropout (PEFT ``Linear.forward`` computes ``lora_B(lora_A(dropout(x)))`` after the cast, peft
    src/peft/tuners/lora/layer.py): each adapted module drops its own copy of the input, so ``lora_A``
    saves that copy (in the adapter dtype, or autocast's 16-bit cast of it) where it could share one,
    and the dropout saves its bool mask, one byte per input element (CUDA's fused ``native_dropout``,
    aten/src/ATen/native/Dropout.cpp), unless the input needs no gradient (``grad``: the first
    layer's input under a frozen embedding), when autograd records nothing for the dropout.
    """
    if not lora.on:
        if d.autocast and x_bytes == 4:
            return len(modules) * d.compute * width
        return 0 if kept else x_bytes * width
    adapted = lora.adapted(layer, modules)
    if not adapted:
        return 0
    middle = len(adapted) * (d.compute if d.autocast else d.adapter) * lora.rank
    mask = DROPOUT_MASK_BYTES * width if lora.dropout and grad else 0
    if d.autocast:
        return len(adapted) * (d.compute * width + mask) + middle
    if d.adapter == x_bytes and not lora.dropout:
        return (0 if kept else x_bytes * width) + middle
    return len(adapted) * (d.adapter * width + mask) + middle


def _norm(spec: ModelSpec, width: int, rows: int, x_bytes: int, d: _Dtypes, *, trainable: bool) -> int:
    """Bytes per token one norm saves (its output, read by Linears, is counted with them).

    RMSNorm: its input upcast to fp32 (the residual itself when that is fp32), ``rsqrt`` per row and,
    when its weight trains, the normalized input of the weight multiply (in the input dtype; fp32 for
    Gemma's ``1 + weight``). LayerNorm: its input, and mean and rstd per row.
    """
    if spec.norm != "rms":
        return x_bytes * width + 2 * STATS_BYTES * rows
    normalized = (4 if spec.model_type.startswith(GEMMA_NORM_PREFIX) else x_bytes) * width if trainable else 0
    return 4 * width + STATS_BYTES * rows + normalized


def _attention(spec: ModelSpec, settings: TrainingSettings, d: _Dtypes, seq_len: int, *, lora: bool) -> dict[str, int]:
    """Bytes per token of the attention core: q, k, v and the output (read by o_proj), either the
    kernel's fp32 logsumexp (sdpa / flash) or the eager s x s scores, and the q/k norms (as the
    layer norms, over the projections' 16-bit outputs)."""
    c, a = d.compute, spec.num_heads
    if spec.mla is not None:
        # v is a view of the kv_b expansion, which also holds the keys' non-rotary part
        m = spec.mla
        q = k = a * m.qk_head_dim
        v, out = a * (m.qk_nope_head_dim + m.v_head_dim), a * m.v_head_dim
    else:
        q, k, v, out = spec.q_width, spec.kv_width, spec.kv_width, spec.q_width
    parts = {"attention_qkvo": 0, "attention_scores": 0}
    if settings.attention == "eager" and settings.grad_checkpointing != "selective":
        if spec.num_heads != spec.num_kv_heads:  # repeat_kv copies k and v to every query head
            k = v = a * (k // spec.num_kv_heads)
        fp32_softmax = spec.model_type not in LOW_PRECISION_SOFTMAX
        per_score = (4 + (c if c != 4 else 0)) if fp32_softmax else c
        if spec.model_type in SOFTCAP_MODELS:
            per_score += c  # tanh output
        if DROPOUT.get(spec.model_type):
            per_score += DROPOUT_MASK_BYTES + c  # mask and dropped copy, read by the value matmul
        parts["attention_scores"] = per_score * a * seq_len
    else:
        parts["attention_scores"] = 4 * a  # fp32 logsumexp per head (flash / memory-efficient kernels)
    parts["attention_qkvo"] = c * (q + k + v + out)
    if spec.qk_norm != "none":
        rows = (a + spec.num_kv_heads) if spec.qk_norm == "head" else 2
        normalized = 0 if lora else c  # saved only for a trainable norm weight
        parts["attention_qkvo"] += (4 + normalized) * (spec.q_width + spec.kv_width) + STATS_BYTES * rows
    return parts


def _mlp(spec: ModelSpec, width: int, d: _Dtypes) -> int:
    """Bytes per token of a dense MLP's intermediates, the down projection's input aside.

    Gated (SwiGLU / GeGLU): the gate output (read by the activation), act(gate) and the up output
    (read by their product). Plain: the fc output (read by a fused activation), or four tensors for
    ``gelu_new`` written as tensor ops.
    """
    if spec.mlp_gated:
        return 3 * d.compute * width
    return (4 if spec.model_type in PYTHON_GELU else 1) * d.compute * width


def _dense_mlp(spec: ModelSpec, width: int, i: int, d: _Dtypes, lora: _Lora) -> int:
    """A dense MLP block: the Linears' inputs and the intermediates."""
    up = ("gate", "up") if spec.mlp_gated and not spec.fused_gate_up else ("gate_up" if spec.mlp_gated else "up",)
    inputs = _linear_inputs(d.residual, spec.hidden_size, up, i, d, lora)
    return inputs + _mlp(spec, width, d) + _linear_inputs(d.compute, width, ("down",), i, d, lora)


def _mla_latents(spec: ModelSpec, d: _Dtypes) -> int:
    """MLA's compressed q and kv latents: each saved as its norm's fp32 input, the normalized copy
    and the norm output that the expanding Linear reads."""
    if spec.mla is None:
        return 0
    widths = [spec.mla.kv_lora_rank] + ([spec.mla.q_lora_rank] if spec.mla.q_lora_rank else [])
    return sum((4 + 2 * d.compute) * w + STATS_BYTES for w in widths)


def _layer(
    spec: ModelSpec, i: int, settings: TrainingSettings, d: _Dtypes, lora: _Lora, seq_len: int
) -> dict[str, int]:
    """Bytes per token one decoder layer saves, by part (eager scores grow with ``seq_len``)."""
    h, r = spec.hidden_size, d.residual
    parts = {"norms": spec.norms_per_layer * _norm(spec, h, 1, r, d, trainable=not lora.on)}
    if lora.on and i == 0:
        # The frozen embedding's output needs no gradient, so the first norm saves nothing either.
        parts["norms"] -= _norm(spec, h, 1, r, d, trainable=False)
    qkv = ("qkv",) if spec.fused_qkv else ("q", "k", "v")
    # Under LoRA the first layer's input comes from the frozen embedding and needs no gradient.
    first = lora.on and i == 0
    parts["attention_inputs"] = _linear_inputs(r, h, qkv, i, d, lora, grad=not first) + _mla_latents(spec, d)
    parts.update(_attention(spec, settings, d, seq_len, lora=lora.on))
    out_width = spec.num_heads * spec.mla.v_head_dim if spec.mla is not None else spec.q_width
    # o_proj reads the attention output itself, except MLA's, which is copied after the head merge
    kept = spec.mla is None
    parts["attention_inputs"] += _linear_inputs(d.compute, out_width, ("o",), i, d, lora, kept=kept)
    if spec.moe is not None and spec.moe.moe_layers[i]:
        m = spec.moe
        slot = 4 * d.compute * m.expert_intermediate_size + (r + d.compute) * h + ROUTING_BYTES_PER_SLOT
        router = _linear_inputs(r, h, ("router",), i, d, lora)
        parts["mlp"] = router + m.experts_per_token * slot + 4 * m.num_experts + STATS_BYTES
        if m.shared_intermediate_size:
            parts["mlp"] += _dense_mlp(spec, m.shared_intermediate_size, i, d, lora)
    else:
        parts["mlp"] = _dense_mlp(spec, spec.intermediate_size, i, d, lora)
    if DROPOUT.get(spec.model_type):
        parts["dropout_masks"] = 2 * DROPOUT_MASK_BYTES * h  # after the attention and after the MLP
    return parts


def _head(spec: ModelSpec, d: _Dtypes, lora: _Lora, *, fused: bool) -> dict[str, int]:
    """Bytes per token the final norm, the lm_head and the loss save.

    ``ForCausalLMLoss`` upcasts the logits to fp32 and cross-entropy saves its fp32 log-softmax
    (transformers loss/loss_utils.py). A fused loss (``fused``: the chunked loss compiled as torchtune
    runs it) recomputes the softmax in backward from what it keeps instead: the logits in the compute
    dtype and a logsumexp per row (fp32, 4 bytes per token, counted with the labels).
    """
    h, v = spec.hidden_size, spec.vocab_size
    parts = {
        "final_norm": _norm(spec, h, 1, d.residual, d, trainable=not lora.on) if spec.final_norm else 0,
        "lm_head_input": _linear_inputs(d.residual, h, ("lm_head",), -1, d, lora),
        "loss": (d.compute * v + STATS_BYTES if fused else 4 * v) + LABEL_BYTES,
    }
    if spec.model_type in SOFTCAP_MODELS:
        parts["loss"] += d.compute * v  # tanh of the soft-capped logits
    return parts


def _positions(spec: ModelSpec, d: _Dtypes, seq_len: int) -> int:
    """Bytes per sequence the first layer saves once for every layer: rotary cos and sin (in the
    residual dtype), or the int64 position ids of a learned table."""
    if spec.learned_positions:
        return LABEL_BYTES * seq_len
    rot = spec.mla.qk_rope_head_dim if spec.mla is not None else spec.head_dim
    return 2 * rot * d.residual * seq_len


def _layer_grads(spec: ModelSpec, d: _Dtypes, seq_len: int, eager: bool) -> int:
    """Bytes per token of one layer's activation gradients at its widest backward step.

    In the MLP, once down_proj's backward has released the product it saved: the gradients of the
    product's two factors beside the residual stream's gradient. Eager, in the attention: the fp32
    gradient of the scores beside the gradients of the attention output and of the residual stream.
    Measured on CPU with transformers 5.23 (tests/core/data/training_oracle.json, small-vocabulary Llama).
    """
    f = spec.intermediate_size
    if spec.moe is not None:
        f = max(f, spec.moe.experts_per_token * spec.moe.expert_intermediate_size)
    residual = d.residual * spec.hidden_size
    mlp = 2 * d.compute * f + residual
    scores = 4 * spec.num_heads * seq_len + d.compute * spec.q_width + residual if eager else 0
    return max(mlp, scores)


def _stage(kept: list[int], embed: int, head: int, pp: int) -> tuple[int, int]:
    """(bytes in the layers, bytes beside them) on the most loaded pipeline stage.

    One stage holds everything. Under 1F1B the first stage keeps pp micro-batches of its layers (and
    of the embedding) in flight and the last one a single micro-batch and the head.
    """
    if pp == 1:
        return sum(kept), embed + head
    per_stage = ceil(len(kept) / pp)
    first = (pp * sum(kept[:per_stage]), pp * embed)
    last = (sum(kept[len(kept) - per_stage :]), head)
    return max(first, last, key=sum)


def training_activations(spec: ModelSpec, settings: TrainingSettings, adapters: Sequence[Tensor]) -> ActivationPeaks:
    """Activation memory of one micro-batch on the most loaded GPU.

    ``settings`` arrive resolved (precision and seq_len set); ``adapters`` are the LoRA tensors (empty for
    full fine-tuning). Tensor parallelism is Megatron's with sequence parallelism: every activation,
    the logits included (vocab-parallel cross-entropy), divided by tp. Pipeline parallelism: under 1F1B
    the first stage holds pp micro-batches of its layers in flight (Korthikanti et al. 2022 section 4.2.3),
    the last one the head; the larger of the two is reported.
    """
    if settings.seq_len is None:
        msg = "training_activations needs a resolved seq_len"
        raise SettingsError(msg)
    s, b, tp, pp = settings.seq_len, settings.batch, settings.tp, settings.pp
    tokens = b * s
    d, lora = _dtypes(settings), _lora(adapters, dropout=settings.lora_dropout > 0)
    eager = settings.attention == "eager"
    layers = [_layer(spec, i, settings, d, lora, s) for i in range(spec.num_layers)]
    layer_bytes = [sum(p.values()) * tokens for p in layers]
    ckpt = settings.grad_checkpointing == "full"
    kept = [d.residual * spec.hidden_size * tokens] * spec.num_layers if ckpt else layer_bytes
    mask = DROPOUT_MASK_BYTES * spec.hidden_size if DROPOUT.get(spec.model_type) else 0
    embed = (LABEL_BYTES + mask) * tokens + _positions(spec, d, s)
    fused = settings.loss == "chunked"
    head = _head(spec, d, lora, fused=fused)
    head_bytes = sum(head.values()) * tokens
    in_layers, beside = _stage(kept, embed, head_bytes, pp)
    offloaded = in_layers if settings.activation_offload else 0
    saved = in_layers + beside - offloaded
    widest = max(layer_bytes)

    logits = spec.vocab_size * tokens
    chunks = CHUNKED_LOSS_CHUNKS if fused else 1
    # The logits (saved by a fused loss, else transient) and their fp32 upcast, one chunk at a time.
    fwd_loss = (0 if fused else d.compute * logits) + (4 * logits // chunks if d.compute != 4 else 0)
    if d.autocast or lora.on:  # the final norm's output stays bound, and no Linear saved it
        fwd_loss += d.residual * spec.hidden_size * tokens
    # Eager: fp32 gradients of the log-probabilities and of the logits. Fused: one kernel writes the
    # gradient of a chunk's logits in their own dtype.
    bwd_loss = (d.compute if fused else 8) * logits // chunks
    recompute = widest if ckpt else 0
    if settings.grad_checkpointing == "selective" and eager:  # one layer's attention core, recomputed
        uncut = settings.model_copy(update={"grad_checkpointing": "none"})
        recompute = _attention(spec, uncut, d, s, lora=lora.on)["attention_scores"] * tokens
    back_in = widest if settings.activation_offload else 0  # one layer's tensors brought back
    # The layers run (forward, and backward after the loss) while the head's tensors do not exist.
    released = head_bytes if pp == 1 else 0
    grads = _layer_grads(spec, d, s, eager) * tokens
    # A checkpointed layer runs forward without saving: its widest step, as in inference, is the
    # transient (never more than the layer saves when it does save); an offloaded layer's tensors
    # stay on the GPU until the layer is done.
    fwd_layer = widest if settings.activation_offload else 0
    if ckpt:
        fwd_layer = min(widest, int(activations(spec, d.compute, b, s, "last").details["layer_peak_bytes"]))
    fwd_extra = max(fwd_loss, fwd_layer - released)
    bwd_extra = max(bwd_loss, max(recompute, back_in) + grads - released)

    def per_gpu(x: int) -> int:
        return ceil(x / tp)

    mode = {"none": "no checkpointing", "full": "full checkpointing (each layer's input kept, one layer recomputed)",
            "selective": "selective recompute of the attention core"}[settings.grad_checkpointing]  # fmt: skip
    attn = "eager s x s scores" if eager and settings.grad_checkpointing != "selective" else "fused attention"
    what = f"LoRA r={lora.rank} on {sum(len(v) for v in lora.targets.values())} modules" if lora.on else "full FT"
    if lora.on and lora.dropout:
        what += f" (lora_dropout {settings.lora_dropout:g}: a bool mask and a dropped copy per adapted input)"
    loss = (
        "chunked fused loss (logits kept, no fp32 log-softmax)" if fused else "standard loss (fp32 log-softmax saved)"
    )
    note = f"{b} x {s:,} tokens per micro-batch, {attn}, {mode}, {what}, {loss}"
    if spec.moe is not None and spec.mla is not None:
        note += "; DeepSeek's group routing keeps index tensors not counted here (about 3% of a MoE layer)"
    if settings.qlora:
        note += "; QLoRA: PEFT prepare_model_for_kbit_training turns on checkpointing unless told not to"
    if tp > 1:
        note += f"; divided by tp={tp} (Megatron sequence parallel)"
    if pp > 1:
        note += f"; first pipeline stage holds {pp} micro-batches in flight"
    details: dict[str, int | float | str] = {
        "per_layer_bytes": per_gpu(layer_bytes[min(1, spec.num_layers - 1)]),
        "per_layer_bytes_per_token": sum(layers[min(1, spec.num_layers - 1)].values()),
        "layers_bytes": per_gpu(sum(kept)),
        "head_bytes": per_gpu(head_bytes),
        "embedding_bytes": per_gpu(embed),
        "logits_bytes": per_gpu(d.compute * logits),
        "forward_loss_extra_bytes": per_gpu(fwd_loss),
        "backward_loss_extra_bytes": per_gpu(bwd_loss),
        "layer_gradient_bytes": per_gpu(grads),
    }
    for part, value in layers[min(1, spec.num_layers - 1)].items():
        details[f"layer_{part}_bytes_per_token"] = value
    return ActivationPeaks(
        saved_bytes=per_gpu(saved),
        forward_extra_bytes=per_gpu(fwd_extra),
        backward_extra_bytes=per_gpu(bwd_extra),
        cpu_bytes=per_gpu(offloaded),
        note=note,
        details=details,
    )
