"""ModelSpec: the normalized architecture every estimate is computed from.

A spec says what tensors the model has, not how a framework names them. It is built from a
Hugging Face ``config.json`` by ``vram.resolve.mapping`` (one table row per ``model_type``) and is
frozen, so one spec can serve many estimates.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NormKind = Literal["rms", "layernorm", "layernorm_nobias"]
"""RMSNorm (weight only), LayerNorm (weight + bias) or LayerNorm without bias (Cohere, StableLM q/k)."""

QKNorm = Literal["none", "head", "full"]
"""Per-layer q/k normalization: none, over head_dim (Qwen3, Gemma3) or over the whole projection (OLMo2, Cohere)."""

LayerKind = Literal["full", "sliding"]

MAX_LAYERS = 10_000
"""Upper bound on layers (real models have at most a few hundred): keeps a hostile config from
making the per-layer tensor list unbounded."""


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class MLA(_Frozen):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank q and a compressed shared KV latent."""

    q_lora_rank: int | None = Field(ge=1)
    kv_lora_rank: int = Field(ge=1)
    qk_nope_head_dim: int = Field(ge=0)
    qk_rope_head_dim: int = Field(ge=0)
    v_head_dim: int = Field(ge=1)

    @property
    def qk_head_dim(self) -> int:
        """Width of one query/key head: the non-rotary part plus the rotary part."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim


class MoE(_Frozen):
    """Mixture-of-experts feed-forward blocks and which layers use them."""

    num_experts: int = Field(ge=1)
    experts_per_token: int = Field(ge=1)
    expert_intermediate_size: int = Field(ge=1)
    shared_intermediate_size: int = Field(default=0, ge=0, description="0 when there is no shared expert")
    shared_expert_gate: bool = False
    router_bias: bool = False
    expert_bias: bool = False
    moe_layers: tuple[bool, ...] = Field(description="per layer: True where the MLP is a MoE block")

    @model_validator(mode="after")
    def _top_k_fits(self) -> MoE:
        if self.experts_per_token > self.num_experts:
            msg = f"experts_per_token ({self.experts_per_token}) exceeds num_experts ({self.num_experts})"
            raise ValueError(msg)
        return self


VisionKind = Literal["siglip", "pixtral", "llama4"]
"""Vision tower layouts: SigLIP + Gemma 3 projector, Pixtral + Mistral 3 projector, Llama 4's ViT + adapter."""


class VisionTower(_Frozen):
    """A ViT image encoder and the projector that feeds its output to the text model."""

    kind: VisionKind
    hidden_size: int = Field(ge=1)
    intermediate_size: int = Field(ge=1)
    num_layers: int = Field(ge=1, le=MAX_LAYERS)
    num_channels: int = Field(ge=1)
    patch_size: int = Field(ge=1)
    image_size: int = Field(ge=1)
    head: bool = Field(default=False, description="SigLIP attention-pooling head present")
    merge_size: int = Field(default=1, ge=1, description="Mistral 3 patch merger: patches merged per side")
    feature_layers: int = Field(default=1, ge=1, description="Mistral 3: vision layers concatenated into the projector")
    projector_bias: bool = False
    adapter_in: int = Field(default=0, ge=0, description="Llama 4 pixel-shuffle adapter width (projector_input_dim)")
    adapter_out: int = Field(default=0, ge=0, description="Llama 4 adapter output width (projector_output_dim)")
    output_dim: int = Field(default=0, ge=0, description="Llama 4 vision output width (vision_output_dim)")


GgufArch = Literal[
    "llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "gemma", "gemma2", "gemma3", "phi2", "phi3", "gpt2",
    "starcoder", "gptneox", "falcon", "bloom", "starcoder2", "olmo2", "command-r", "granite", "stablelm",
    "deepseek2", "gpt-oss", "llama4",
]  # fmt: skip
"""llama.cpp's name for an architecture (``LLM_ARCH_*`` in ``src/llama-arch.cpp``, the
``general.architecture`` that ``convert_hf_to_gguf.py`` writes). Mistral and Mixtral convert to
``llama``. llama.cpp's per-tensor type rules key on it."""


class ModelSpec(_Frozen):
    """Normalized decoder-only transformer architecture (all sizes are element counts, not bytes)."""

    model_type: str
    architecture: str = Field(description="the transformers class name, e.g. LlamaForCausalLM")
    gguf_arch: GgufArch | None = Field(default=None, description="llama.cpp's architecture; None if it has none")
    exact: bool = Field(default=True, description="False when built by the approximate fallback mapping")
    approximations: tuple[str, ...] = ()

    vocab_size: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1, le=MAX_LAYERS)
    num_heads: int = Field(ge=1)
    num_kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    intermediate_size: int = Field(ge=0, description="dense MLP width (0 when every layer is MoE)")

    mlp_gated: bool = Field(description="SwiGLU/GeGLU: gate, up and down projections")
    mlp_bias: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    fused_qkv: bool = Field(default=False, description="one qkv projection tensor (GPT-2, Falcon, Phi-3, ...)")
    fused_gate_up: bool = False
    qk_norm: QKNorm = "none"
    qk_norm_kind: NormKind = "rms"
    attention_sinks: bool = False

    norm: NormKind = "rms"
    norms_per_layer: int = Field(default=2, ge=0)
    final_norm: bool = True

    tie_word_embeddings: bool = False
    text_tie_word_embeddings: bool | None = Field(
        default=None,
        description="a vision-language wrapper's text_config tie flag when it differs from the wrapper's own",
    )
    lm_head_bias: bool = False
    learned_positions: int = Field(default=0, ge=0, description="rows of a learned position table")
    embedding_norm: bool = False
    embedding_dim: int | None = Field(default=None, description="OPT word_embed_proj_dim when it differs")

    mla: MLA | None = None
    moe: MoE | None = None
    vision: VisionTower | None = None

    layer_types: tuple[LayerKind, ...] = Field(description="attention kind per layer")
    sliding_window: int | None = Field(default=None, ge=1)
    max_position_embeddings: int | None = Field(default=None, ge=1)
    torch_dtype: str | None = None
    quantization: str | None = Field(default=None, description="format name of a pre-quantized checkpoint")

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if len(self.layer_types) != self.num_layers:
            msg = f"layer_types has {len(self.layer_types)} entries for {self.num_layers} layers"
            raise ValueError(msg)
        if self.num_heads % self.num_kv_heads:
            msg = (
                f"num_attention_heads ({self.num_heads}) is not a multiple of num_key_value_heads ({self.num_kv_heads})"
            )
            raise ValueError(msg)
        if self.moe is not None and len(self.moe.moe_layers) != self.num_layers:
            msg = f"moe_layers has {len(self.moe.moe_layers)} entries for {self.num_layers} layers"
            raise ValueError(msg)
        dense_layers = self.num_layers if self.moe is None else self.moe.moe_layers.count(False)
        if dense_layers and self.intermediate_size < 1:
            msg = f"intermediate_size must be positive: {dense_layers} layer(s) have a dense MLP"
            raise ValueError(msg)
        if "sliding" in self.layer_types and self.sliding_window is None:
            msg = "sliding-window layers need a sliding_window size"
            raise ValueError(msg)
        return self

    @property
    def q_width(self) -> int:
        """Total query projection width (heads x head_dim)."""
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        """Total key (or value) projection width (KV heads x head_dim)."""
        return self.num_kv_heads * self.head_dim
