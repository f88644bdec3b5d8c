"""Exact parameter tensors of a ModelSpec, as transformers instantiates them.

Every tensor is listed with its shape, so the parameter count is a plain sum and each
quantization format can price each tensor the way its library lays it out (per-row scales,
per-group zero points, GGUF blocks along the row). Tensor names follow GGUF's
(``attn_q``, ``ffn_down_exps``...) because llama.cpp's per-tensor type rules key on them.

Shapes are ``(out_features, in_features)`` for matrices and ``(experts, out, in)`` for fused
experts; the last dimension is the row length a quantizer blocks along.
The per-family layouts were checked against transformers 5.23 on the meta device
(``scripts/golden_params.py``; results in ``tests/core/golden_params.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Literal

from vram.core.spec import ModelSpec, NormKind, VisionTower

Role = Literal[
    "embedding",
    "position",
    "lm_head",
    "attention",
    "mlp",
    "expert",
    "shared_expert",
    "router",
    "norm",
    "bias",
    "sinks",
    "vision",
    "projector",
    "other",
]
"""What a tensor is for: decides whether a quantization format converts it."""

MATRIX_ROLES: frozenset[Role] = frozenset({"attention", "mlp", "expert", "shared_expert"})
"""Roles whose tensors are the decoder's linear weights: what weight quantizers convert."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """One parameter tensor (or a fused stack of expert matrices)."""

    name: str
    shape: tuple[int, ...]
    role: Role
    layer: int | None = None
    per_expert: bool = False
    """One slice per routed expert (expert matrices and their biases): only top-k slices run per token."""

    @property
    def numel(self) -> int:
        """Number of elements (parameters) in the tensor."""
        return prod(self.shape)


@dataclass(frozen=True, slots=True)
class ParameterCount:
    """Parameter totals: all, per role, and active per token (MoE)."""

    total: int
    by_role: dict[str, int]
    active: int


def _norm(name: str, width: int, kind: NormKind, layer: int | None) -> list[Tensor]:
    tensors = [Tensor(name, (width,), "norm", layer)]
    if kind == "layernorm":
        tensors.append(Tensor(f"{name}.bias", (width,), "bias", layer))
    return tensors


def _linear(name: str, out: int, inp: int, role: Role, layer: int | None, *, bias: bool) -> list[Tensor]:
    tensors = [Tensor(name, (out, inp), role, layer)]
    if bias:
        tensors.append(Tensor(f"{name}.bias", (out,), "bias", layer))
    return tensors


def _attention(spec: ModelSpec, i: int) -> list[Tensor]:
    h = spec.hidden_size
    if spec.mla is not None:
        return _mla_attention(spec, i)
    t: list[Tensor] = []
    if spec.fused_qkv:
        t += _linear("attn_qkv", spec.q_width + 2 * spec.kv_width, h, "attention", i, bias=spec.qkv_bias)
    else:
        t += _linear("attn_q", spec.q_width, h, "attention", i, bias=spec.qkv_bias)
        t += _linear("attn_k", spec.kv_width, h, "attention", i, bias=spec.qkv_bias)
        t += _linear("attn_v", spec.kv_width, h, "attention", i, bias=spec.qkv_bias)
    t += _linear("attn_output", h, spec.q_width, "attention", i, bias=spec.o_bias)
    if spec.qk_norm == "head":
        t += _norm("attn_q_norm", spec.head_dim, spec.qk_norm_kind, i)
        t += _norm("attn_k_norm", spec.head_dim, spec.qk_norm_kind, i)
    elif spec.qk_norm == "full":
        t += _norm("attn_q_norm", spec.q_width, spec.qk_norm_kind, i)
        t += _norm("attn_k_norm", spec.kv_width, spec.qk_norm_kind, i)
    if spec.attention_sinks:
        t.append(Tensor("attn_sinks", (spec.num_heads,), "sinks", i))
    return t


def _mla_attention(spec: ModelSpec, i: int) -> list[Tensor]:
    assert spec.mla is not None
    m, h, a, bias = spec.mla, spec.hidden_size, spec.num_heads, spec.qkv_bias
    t: list[Tensor] = []
    if m.q_lora_rank is None:
        t += _linear("attn_q", a * m.qk_head_dim, h, "attention", i, bias=False)
    else:
        t += _linear("attn_q_a", m.q_lora_rank, h, "attention", i, bias=bias)
        t += _norm("attn_q_a_norm", m.q_lora_rank, "rms", i)
        t += _linear("attn_q_b", a * m.qk_head_dim, m.q_lora_rank, "attention", i, bias=False)
    t += _linear("attn_kv_a_mqa", m.kv_lora_rank + m.qk_rope_head_dim, h, "attention", i, bias=bias)
    t += _norm("attn_kv_a_norm", m.kv_lora_rank, "rms", i)
    t += _linear("attn_kv_b", a * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank, "attention", i, bias=False)
    t += _linear("attn_output", h, a * m.v_head_dim, "attention", i, bias=spec.o_bias)
    return t


def _dense_mlp(spec: ModelSpec, width: int, i: int, *, suffix: str = "", role: Role = "mlp") -> list[Tensor]:
    h, bias = spec.hidden_size, spec.mlp_bias
    if not spec.mlp_gated:
        return _linear(f"ffn_up{suffix}", width, h, role, i, bias=bias) + _linear(
            f"ffn_down{suffix}", h, width, role, i, bias=bias
        )
    if spec.fused_gate_up:
        up = _linear(f"ffn_up{suffix}", 2 * width, h, role, i, bias=bias)
    else:
        up = _linear(f"ffn_gate{suffix}", width, h, role, i, bias=bias)
        up += _linear(f"ffn_up{suffix}", width, h, role, i, bias=bias)
    return up + _linear(f"ffn_down{suffix}", h, width, role, i, bias=bias)


def _moe_mlp(spec: ModelSpec, i: int) -> list[Tensor]:
    assert spec.moe is not None
    moe, h = spec.moe, spec.hidden_size
    e, f = moe.num_experts, moe.expert_intermediate_size
    t = _linear("ffn_gate_inp", e, h, "router", i, bias=moe.router_bias)
    t.append(Tensor("ffn_gate_exps", (e, f, h), "expert", i, per_expert=True))
    t.append(Tensor("ffn_up_exps", (e, f, h), "expert", i, per_expert=True))
    t.append(Tensor("ffn_down_exps", (e, h, f), "expert", i, per_expert=True))
    if moe.expert_bias:
        t.append(Tensor("ffn_gate_up_exps.bias", (e, 2 * f), "bias", i, per_expert=True))
        t.append(Tensor("ffn_down_exps.bias", (e, h), "bias", i, per_expert=True))
    if moe.shared_intermediate_size:
        t += _dense_mlp(spec, moe.shared_intermediate_size, i, suffix="_shexp", role="shared_expert")
    if moe.shared_expert_gate:
        t.append(Tensor("ffn_gate_inp_shexp", (1, h), "router", i))
    return t


def _vit_layer(v: VisionTower, j: int, *, gated: bool, bias: bool, norm: NormKind) -> list[Tensor]:
    """One ViT encoder layer: two norms, q/k/v/o (hidden x hidden), and the MLP."""
    hv, fv = v.hidden_size, v.intermediate_size
    t = _norm(f"v.ln1.{j}", hv, norm, None) + _norm(f"v.ln2.{j}", hv, norm, None)
    for proj in ("q", "k", "v", "o"):
        t += _linear(f"v.attn_{proj}", hv, hv, "vision", None, bias=bias)
    if gated:
        t += _linear("v.ffn_gate", fv, hv, "vision", None, bias=bias)
    t += _linear("v.ffn_up", fv, hv, "vision", None, bias=bias)
    t += _linear("v.ffn_down", hv, fv, "vision", None, bias=bias)
    return t


def _siglip(v: VisionTower, text_hidden: int) -> list[Tensor]:
    """SiglipVisionModel (conv patch embedding, learned positions, LayerNorm) + Gemma 3's projector."""
    hv, fv = v.hidden_size, v.intermediate_size
    t = [
        Tensor("v.patch_embd", (hv, v.num_channels, v.patch_size, v.patch_size), "vision"),
        Tensor("v.patch_embd.bias", (hv,), "bias"),
        Tensor("v.position_embd", ((v.image_size // v.patch_size) ** 2, hv), "vision"),
    ]
    for j in range(v.num_layers):
        t += _vit_layer(v, j, gated=False, bias=True, norm="layernorm")
    t += _norm("v.post_ln", hv, "layernorm", None)
    if v.head:
        t.append(Tensor("v.head.probe", (1, 1, hv), "vision"))
        t += _linear("v.head.attn_in", 3 * hv, hv, "vision", None, bias=True)
        t += _linear("v.head.attn_out", hv, hv, "vision", None, bias=True)
        t += _norm("v.head.ln", hv, "layernorm", None)
        t += _linear("v.head.ffn_up", fv, hv, "vision", None, bias=True)
        t += _linear("v.head.ffn_down", hv, fv, "vision", None, bias=True)
    t.append(Tensor("mm.input_projection", (hv, text_hidden), "projector"))
    return t + _norm("mm.soft_emb_norm", hv, "rms", None)


def _pixtral(v: VisionTower, text_hidden: int) -> list[Tensor]:
    """PixtralVisionModel (bias-free conv, RMSNorm, gated MLP, RoPE) + Mistral 3's projector."""
    hv = v.hidden_size
    t = [Tensor("v.patch_embd", (hv, v.num_channels, v.patch_size, v.patch_size), "vision")]
    t += _norm("v.pre_ln", hv, "rms", None)
    for j in range(v.num_layers):
        t += _vit_layer(v, j, gated=True, bias=False, norm="rms")
    t += _norm("mm.norm", hv, "rms", None)
    t.append(Tensor("mm.patch_merger", (hv, hv * v.merge_size**2), "projector"))
    t += _linear("mm.1", text_hidden, hv * v.feature_layers, "projector", None, bias=v.projector_bias)
    return t + _linear("mm.2", text_hidden, text_hidden, "projector", None, bias=v.projector_bias)


def _llama4_vit(v: VisionTower, text_hidden: int) -> list[Tensor]:
    """Llama4VisionModel (unfolded linear patch embedding, class token, LayerNorm) + adapter + projector."""
    hv = v.hidden_size
    t = [
        Tensor("v.patch_embd", (hv, v.num_channels * v.patch_size**2), "vision"),
        Tensor("v.class_embd", (hv,), "vision"),
        Tensor("v.position_embd", ((v.image_size // v.patch_size) ** 2 + 1, hv), "vision"),
    ]
    t += _norm("v.pre_ln", hv, "layernorm", None) + _norm("v.post_ln", hv, "layernorm", None)
    for j in range(v.num_layers):
        t += _vit_layer(v, j, gated=False, bias=True, norm="layernorm")
    t.append(Tensor("v.adapter.fc1", (v.adapter_in, v.intermediate_size), "vision"))
    t.append(Tensor("v.adapter.fc2", (v.adapter_out, v.adapter_out), "vision"))
    t.append(Tensor("mm.input_projection", (text_hidden, v.output_dim), "projector"))
    return t


_VISION = {"siglip": _siglip, "pixtral": _pixtral, "llama4": _llama4_vit}


def tensors(spec: ModelSpec) -> list[Tensor]:
    """Every parameter tensor of the model, in load order (embeddings, layers, head)."""
    h = spec.hidden_size
    emb = spec.embedding_dim or h
    t = [Tensor("token_embd", (spec.vocab_size, emb), "embedding")]
    if spec.learned_positions:
        t.append(Tensor("position_embd", (spec.learned_positions, h), "position"))
    if spec.embedding_norm:
        t += _norm("token_embd_norm", h, spec.norm, None)
    if emb != h:
        t.append(Tensor("project_in", (h, emb), "mlp"))
        t.append(Tensor("project_out", (emb, h), "mlp"))
    for i in range(spec.num_layers):
        for n in range(spec.norms_per_layer):
            t += _norm(f"blk.norm{n}", h, spec.norm, i)
        t += _attention(spec, i)
        if spec.moe is not None and spec.moe.moe_layers[i]:
            t += _moe_mlp(spec, i)
        else:
            t += _dense_mlp(spec, spec.intermediate_size, i)
    if spec.final_norm:
        t += _norm("output_norm", h, spec.norm, None)
    if not spec.tie_word_embeddings:
        t.append(Tensor("output", (spec.vocab_size, emb), "lm_head"))
    if spec.lm_head_bias:
        t.append(Tensor("output.bias", (spec.vocab_size,), "bias"))
    if spec.vision is not None:
        t += _VISION[spec.vision.kind](spec.vision, h)
    return t


def count_parameters(spec: ModelSpec, tensor_list: list[Tensor] | None = None) -> ParameterCount:
    """Total parameters (what ``sum(p.numel() for p in model.parameters())`` gives), per role, and active."""
    ts = tensors(spec) if tensor_list is None else tensor_list
    by_role: dict[str, int] = {}
    inactive = 0
    for x in ts:
        by_role[x.role] = by_role.get(x.role, 0) + x.numel
        if x.per_expert:
            inactive += x.numel
    total = sum(by_role.values())
    active = total
    if spec.moe is not None and inactive:
        active = total - inactive + inactive * spec.moe.experts_per_token // spec.moe.num_experts
    return ParameterCount(total=total, by_role=by_role, active=active)
