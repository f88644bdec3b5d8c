"""transformers ``from_pretrained`` + ``generate``: what ``torch.cuda.memory_allocated()`` shows after loading.

``load_bytes`` is the weights as stored on the GPU (each stored tensor one allocation, priced by
``vram.core.inference.price_tensor``), plus the model's non-persistent buffers, each rounded as
the caching allocator hands out blocks (``vram.core.overhead.allocated_bytes``). Reserved but
unused segment space is not part of it; the estimate's overhead line charges that.

Buffers, from each version's modeling code:

- Rotary models keep ``inv_freq`` (fp32, half the rotary width) once per model; transformers 5
  adds ``original_inv_freq``, a second copy (``LlamaRotaryEmbedding.__init__`` in
  transformers 5.23 ``models/llama/modeling_llama.py``: two ``nn.Buffer(..., persistent=False)``).
- GPT-2 under transformers 4 keeps a bool causal mask of ``n_positions`` squared and a scalar
  ``masked_bias`` per layer (huggingface/transformers ``models/gpt2/modeling_gpt2.py`` @0010f602,
  ``GPT2Attention.__init__``); transformers 5 builds the mask per call (``create_causal_mask``)
  and registers neither.

Not counted: GPTQ kernels' scratch space, which depends on the kernel GPTQModel picks at load time
(AutoGPTQ's exllamav2 kernel allocates one buffer per GPU for its widest layer, ``in x out x 2``
bytes plus ``out x 2048 x 8 x 4`` for its default input length and batch: about 1 GiB for a
Llama-3-8B MLP; AutoGPTQ ``auto_gptq/nn_modules/qlinear/qlinear_exllamav2.py`` @c550a83b,
``scratch_space_fixed``). bitsandbytes and AWQ's GEMM layout keep no buffers besides their tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

from vram.core.overhead import allocated_bytes
from vram.core.spec import ModelSpec

TRANSFORMERS_MAJOR = 5
"""The transformers major version the profile describes unless told otherwise."""

_FP32 = 4


def model_buffers(spec: ModelSpec, transformers_major: int = TRANSFORMERS_MAJOR) -> list[tuple[str, int]]:
    """(name, bytes) of each buffer ``from_pretrained`` puts on the GPU besides the parameters."""
    out: list[tuple[str, int]] = []
    if not spec.learned_positions:
        rotary = spec.mla.qk_rope_head_dim if spec.mla is not None else spec.head_dim
        out.append(("rotary_emb.inv_freq", rotary // 2 * _FP32))
        if transformers_major >= 5:
            out.append(("rotary_emb.original_inv_freq", rotary // 2 * _FP32))
    if spec.model_type == "gpt2" and transformers_major < 5:
        n = spec.learned_positions
        for i in range(spec.num_layers):
            out += [(f"h.{i}.attn.bias", n * n), (f"h.{i}.attn.masked_bias", _FP32)]
    return out


def load_bytes(spec: ModelSpec, weight_sizes: Sequence[int], transformers_major: int = TRANSFORMERS_MAJOR) -> int:
    """``torch.cuda.memory_allocated()`` after ``from_pretrained``: weight and buffer blocks as allocated."""
    buffers = [b for _, b in model_buffers(spec, transformers_major)]
    return allocated_bytes([*weight_sizes, *buffers])
