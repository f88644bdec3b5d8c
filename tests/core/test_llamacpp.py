"""The llama.cpp profile: published llama.cpp logs reproduced, and hand-counted splits on the toy decoder.

Toy figures are counted by hand from the F16 GGUF layout (2-D tensors f16, 1-D tensors f32, see
``vram.core.gguf``) and llama.cpp's placement and padding rules quoted in ``vram.core.runtimes.llamacpp``.
"""

from __future__ import annotations

from typing import Any

import pytest

from vram.core.errors import SettingsError
from vram.core.inference import InferenceSettings, LlamaCppSettings
from vram.core.runtimes.llamacpp import estimate_llamacpp, kv_cells, placement
from vram.core.spec import ModelSpec
from vram.core.units import MiB
from vram.resolve.reference import resolve

from .toy import toy_spec


def _mib(n: int | float | str | bool) -> str:
    assert isinstance(n, int)
    return f"{n / MiB:.2f}"


def _settings(
    dtype: str | None = "Q4_K_M", ctx: int | None = None, kv_dtype: str | None = None, **opts: Any
) -> InferenceSettings:
    """InferenceSettings for --runtime llama.cpp: --dtype, --ctx-size, --kv-dtype and the llama.cpp options."""
    return InferenceSettings(
        runtime="llama.cpp", dtype=dtype, seq_len=ctx, kv_dtype=kv_dtype, llamacpp=LlamaCppSettings(**opts)
    )


def _catalog(model_id: str) -> ModelSpec:
    spec = resolve(model_id).spec
    assert spec is not None
    return spec


def test_published_log_llama31_8b_q4_k_m_ctx_8192() -> None:
    """A llama.cpp (Ollama) load of Llama-3.1-8B Q4_K_M, n_ctx 8192, 4 sequences, flash attention off.

    Log quoted in MagicWand18/Securetag-AI-Agent runpod-deploy/logcompleto.md @bbee6a4e: CPU model
    buffer 281.81 MiB, CUDA0 model buffer 4403.49 MiB, KV 1024.00 MiB, CUDA0 compute buffer 560.00 MiB,
    CUDA_Host compute buffer 24.01 MiB, output buffer 2.02 MiB (that build kept one KV stream and Ollama
    turns embeddings on, so kv_unified and embeddings are set as it ran).
    """
    settings = _settings(dtype="Q4_K_M", ctx=8192, parallel=4, flash_attn=False, kv_unified=True, embeddings=True)
    est = estimate_llamacpp(_catalog("meta-llama/Llama-3.1-8B"), settings)
    weights, kv, acts = est.component("weights"), est.component("kv_cache"), est.component("activations")
    assert _mib(weights.details["cpu_bytes"]) == "281.81"
    assert _mib(weights.bytes) == "4403.49"
    assert _mib(kv.bytes) == "1024.00"
    assert _mib(acts.bytes) == "560.00"
    assert _mib(acts.details["host_compute_buffer_bytes"]) == "24.01"
    assert _mib(est.component("overhead").details["host_output_buffer_bytes"]) == "2.02"
    assert est.runtime == "llama.cpp"
    assert est.runtime_facts["n_gpu_layers"] == 33


def test_published_log_llama3_8b_q4_k_m_ctx_512() -> None:
    """llama-cpp-python loading a Llama-3-8B Q4_K_M at n_ctx 512 without flash attention.

    Log in developer0hye/llama-3-korean-bllossom-8b-q4-docker README.md @1159e0ab: 281.81 / 4403.49 MiB
    model buffers, KV 64.00 MiB, CUDA0 compute 258.50 MiB (the logits step), CUDA_Host compute 9.01 MiB,
    output 0.49 MiB.
    """
    settings = _settings(dtype="Q4_K_M", ctx=512, batch_size=512, flash_attn=False)
    est = estimate_llamacpp(_catalog("meta-llama/Meta-Llama-3-8B"), settings)
    acts = est.component("activations")
    assert _mib(est.component("weights").bytes) == "4403.49"
    assert _mib(est.component("kv_cache").bytes) == "64.00"
    assert _mib(acts.bytes) == "258.50"
    assert acts.details["widest_step"] == "output"
    assert _mib(acts.details["host_compute_buffer_bytes"]) == "9.01"
    assert _mib(est.component("overhead").details["host_output_buffer_bytes"]) == "0.49"


def test_kv_q8_0_cache_exact() -> None:
    """--cache-type-k/v q8_0 stores 34 bytes per 32 elements: Llama-3.1-8B at 8192 cells is 32 x 8192 x 2 x 1088 B."""
    settings = _settings(dtype="Q4_K_M", ctx=8192, cache_type_k="q8_0", cache_type_v="q8_0")
    est = estimate_llamacpp(_catalog("meta-llama/Llama-3.1-8B"), settings)
    assert est.component("kv_cache").bytes == 32 * 8192 * 2 * (1024 // 32 * 34)
    assert est.component("kv_cache").bytes == 544 * MiB


TOY_LAYERS = 3
PER_LAYER = 2 * 2 * 4 + 4 * (2 * 2) * 2 + 3 * (3 * 2) * 2
"""Two f32 norms of 2, four f16 2x2 attention matrices, three f16 2x3 MLP matrices: 84 bytes."""
EMBED = 10 * 2 * 2
OUTPUT = 10 * 2 * 2 + 2 * 4
"""The f16 head and the f32 final norm."""
KV_LAYER = 256 * (2 * 2 + 2 * 2)
"""One layer's cache: a context of 10 padded to 256 cells, K and V of 2 f16 elements each."""


def _toy(**over: Any) -> ModelSpec:
    return toy_spec(**{"num_layers": TOY_LAYERS, "layer_types": ("full",) * TOY_LAYERS, **over})


@pytest.mark.parametrize(
    ("ngl", "gpu_layers", "output_on_gpu"),
    [(-1, 3, True), (0, 0, False), (1, 0, True), (2, 1, True), (3, 2, True), (4, 3, True), (999, 3, True)],
)
def test_n_gpu_layers_split_by_hand(ngl: int, gpu_layers: int, output_on_gpu: bool) -> None:
    """-ngl k puts the output layer and the last k-1 repeating layers on the GPU; the embedding stays on the CPU."""
    est = estimate_llamacpp(_toy(), _settings(dtype="F16", ctx=10, n_gpu_layers=ngl))
    gpu = gpu_layers * PER_LAYER + (OUTPUT if output_on_gpu else 0)
    total = EMBED + TOY_LAYERS * PER_LAYER + OUTPUT
    weights, kv = est.component("weights"), est.component("kv_cache")
    assert weights.bytes == gpu
    assert weights.details["cpu_bytes"] == total - gpu
    assert kv.bytes == gpu_layers * KV_LAYER
    assert kv.details["cpu_bytes"] == (TOY_LAYERS - gpu_layers) * KV_LAYER
    cpu = est.runtime_facts["cpu_bytes"]
    assert isinstance(cpu, int)
    assert cpu >= (total - gpu) + (TOY_LAYERS - gpu_layers) * KV_LAYER


def test_tied_head_is_loaded_twice() -> None:
    """A head tied to the token embedding: the embedding stays on the CPU and the output layer gets its own copy."""
    est = estimate_llamacpp(_toy(tie_word_embeddings=True), _settings(dtype="F16", ctx=10))
    assert est.component("weights").bytes == TOY_LAYERS * PER_LAYER + EMBED + 2 * 4
    assert est.component("weights").details["cpu_bytes"] == EMBED


def test_negative_n_gpu_layers_other_than_minus_one_is_refused() -> None:
    """-ngl -2 is a usage error (SettingsError, exit 2)."""
    with pytest.raises(SettingsError, match="n-gpu-layers"):
        placement(3, -2)


def test_sliding_window_cells() -> None:
    """SWA layers keep pad(min(cells, W x n_seq + n_ubatch), 256) per stream; --swa-full keeps them all."""
    spec = _toy(layer_types=("sliding", "full", "sliding"), sliding_window=100, gguf_arch="gemma2")
    one = kv_cells(spec, 4096, 1, 512, unified=False, swa_full=False)
    assert (one.full, one.sliding, one.streams) == (4096, 768, 1)  # pad(612) = 768
    unified = kv_cells(spec, 4096, 4, 512, unified=True, swa_full=False)
    assert (unified.full, unified.sliding, unified.streams) == (4096, 1024, 1)  # pad(400 + 512)
    streams = kv_cells(spec, 4096, 4, 512, unified=False, swa_full=False)
    assert (streams.full, streams.sliding, streams.streams) == (1024, 768, 4)
    assert kv_cells(spec, 4096, 1, 512, unified=False, swa_full=True).sliding == 4096
    est = estimate_llamacpp(spec, _settings(dtype="F16", ctx=4096))
    assert est.component("kv_cache").bytes == (2 * 768 + 4096) * 8


def test_context_padded_to_256() -> None:
    """-c 1000 allocates 1024 cells (GGML_PAD(n_ctx, 256))."""
    est = estimate_llamacpp(_toy(), _settings(dtype="F16", ctx=1000))
    assert est.component("kv_cache").details["cells"] == 1024


def test_quantized_v_cache_needs_flash_attention() -> None:
    """A q4_0 V cache without flash attention is refused, as llama.cpp refuses it."""
    with pytest.raises(SettingsError, match="flash attention"):
        estimate_llamacpp(_toy(), _settings(dtype="F16", cache_type_v="q4_0", flash_attn=False))


@pytest.mark.parametrize(
    ("field", "value"), [("cache_type_k", "q3_k"), ("kv_dtype", "fp8"), ("dtype", "gptq"), ("dtype", "int8")]
)
def test_bad_llamacpp_settings(field: str, value: str) -> None:
    """An unknown cache type, or a weight format llama.cpp cannot load, is a SettingsError naming the fix."""
    with pytest.raises(SettingsError):
        estimate_llamacpp(_toy(), _settings(**{"dtype": "F16", field: value}))  # type: ignore[arg-type]


def test_flash_attention_compute_is_the_logits_step() -> None:
    """Flash attention on: Llama-3.1-8B's compute buffer is the logits step, 512 x (128256 + 4096) x 4 B."""
    est = estimate_llamacpp(_catalog("meta-llama/Llama-3.1-8B"), _settings(dtype="Q4_K_M", ctx=32768))
    assert est.component("activations").bytes == 512 * (128256 + 4096) * 4


def test_mla_cache_is_k_only() -> None:
    """DeepSeek-V3 in llama.cpp caches 576 f16 elements per layer and cell (latent 512 + rope 64), no V rows."""
    est = estimate_llamacpp(_catalog("deepseek-ai/DeepSeek-V3"), _settings(dtype="Q4_K_M", ctx=4096))
    assert est.component("kv_cache").bytes == 61 * 4096 * 576 * 2


def test_mistral_window_is_not_applied() -> None:
    """Mistral-7B-v0.1 converts to llama.cpp's ``llama`` architecture, which has no window: 32 full layers."""
    est = estimate_llamacpp(_catalog("mistralai/Mistral-7B-v0.1"), _settings(dtype="Q4_K_M", ctx=8192))
    assert est.component("kv_cache").bytes == 32 * 8192 * 2 * 1024 * 2
    assert any("window is not applied" in w for w in est.warnings)


def test_kv_dtype_sets_both_cache_types() -> None:
    """Without --cache-type-k/-v, --kv-dtype q8_0 prices both K and V rows as q8_0 (34 bytes per 32)."""
    est = estimate_llamacpp(_toy(), _settings(dtype="F16", ctx=10, kv_dtype="q8_0"))
    assert est.component("kv_cache").bytes == TOY_LAYERS * 256 * 2 * 34


@pytest.mark.parametrize("over", [{"batch": 2}, {"logits": "all"}])
def test_transformers_options_are_refused(over: dict[str, Any]) -> None:
    """--batch and --logits describe transformers; with llama.cpp they are a usage error pointing to --parallel."""
    settings = _settings(dtype="F16").model_copy(update=over)
    with pytest.raises(SettingsError):
        estimate_llamacpp(_toy(), settings)


def test_more_gpu_layers_move_bytes_from_host_to_gpu() -> None:
    """Invariant: each extra -ngl slot adds GPU weights and KV and removes as many host bytes of weights and KV."""
    spec = _catalog("meta-llama/Llama-3.1-8B")
    prev = None
    for ngl in range(34):
        est = estimate_llamacpp(spec, _settings(ctx=4096, n_gpu_layers=ngl))
        w, kv = est.component("weights"), est.component("kv_cache")
        gpu, host = w.bytes + kv.bytes, int(w.details["cpu_bytes"]) + int(kv.details["cpu_bytes"])
        if prev is not None:
            assert gpu > prev[0]
            assert gpu + host == prev[0] + prev[1]
        prev = (gpu, host)


def test_smaller_cache_types_never_grow_and_longer_context_never_shrinks() -> None:
    """Invariant: f16 >= q8_0 >= q4_0 for the KV cache, and the total grows with --ctx-size."""
    spec = _catalog("google/gemma-2-2b")
    kv = [
        estimate_llamacpp(spec, _settings(ctx=8192, cache_type_k=t, cache_type_v=t)).component("kv_cache").bytes
        for t in ("f32", "f16", "q8_0", "q4_0")
    ]
    assert kv == sorted(kv, reverse=True)
    totals = [estimate_llamacpp(spec, _settings(ctx=c)).total_bytes for c in (256, 1000, 4096, 8192, 65536)]
    assert totals == sorted(totals)


def test_published_partial_offload_mistral_7b_ngl_20() -> None:
    """llama-cpp-python (a 2025 build: -ngl counts repeating layers) with Mistral-7B-Instruct-v0.1 Q4_K_M, -ngl 20.

    Log in Appendix B of G. Tel-Zur, "A GPU-Accelerated RAG-Based Telegram Assistant for Supporting
    Parallel Processing Students", EduHPC25 (arXiv:2509.11947v1): n_ctx 768, n_batch = n_ubatch 256,
    flash attention on; layers 12-31 on CUDA0 (2495.31 MiB), KV 60.00 MiB on CUDA0 and 36.00 MiB on
    the CPU, CUDA0 compute 137.79 MiB (the CPU-resident Q6_K head copied in for the offloaded logits
    matmul, beside the logits), CUDA_Host compute 4.76 MiB, output buffer 0.12 MiB.
    """
    settings = _settings(ctx=768, n_gpu_layers=20, batch_size=256, ubatch_size=256, output_layer_first=False)
    est = estimate_llamacpp(_catalog("mistralai/Mistral-7B-v0.1"), settings)
    weights, kv, acts = est.component("weights"), est.component("kv_cache"), est.component("activations")
    assert _mib(weights.bytes) == "2495.31"
    assert (_mib(kv.bytes), _mib(kv.details["cpu_bytes"])) == ("60.00", "36.00")
    assert _mib(acts.bytes) == "137.79"
    host = acts.details["host_compute_buffer_bytes"]
    assert isinstance(host, int)
    assert abs(host / MiB - 4.76) < 0.015  # the log prints two decimals; ours is 4.753 (tensor alignment aside)
    assert _mib(est.component("overhead").details["host_output_buffer_bytes"]) == "0.12"
    assert est.runtime_facts["n_gpu_layers"] == 20


def test_old_and_new_n_gpu_layers_conventions() -> None:
    """-ngl 32 of 32 layers: llama.cpp now keeps layer 0 on the CPU, the head on the GPU; older builds the reverse."""
    new, old = placement(32, 32), placement(32, 32, output_first=False)
    assert (new.first_gpu_layer, new.output_on_gpu) == (1, True)
    assert (old.first_gpu_layer, old.output_on_gpu) == (0, False)
    assert placement(32, 33, output_first=False).output_on_gpu


@pytest.mark.parametrize(
    ("model_id", "file_type"),
    [("deepseek-ai/DeepSeek-V3", "BF16"), ("openai/gpt-oss-20b", "MXFP4_MOE"), ("meta-llama/Llama-3.1-8B", "BF16")],
)
def test_default_gguf_is_what_convert_writes(model_id: str, file_type: str) -> None:
    """Without --dtype: FP8 dequantized to the 16-bit dtype, gpt-oss's MXFP4 kept, bf16 kept (convert_hf_to_gguf.py)."""
    est = estimate_llamacpp(_catalog(model_id), _settings(dtype=None))
    assert est.settings.dtype == file_type


def test_ik_llamacpp_mla_q8_cache() -> None:
    """DeepSeek-R1 MLA at 32768 cells, q8_0: 61 layers x 576 elements in 18 blocks of 34 B = 1166.62 MiB, as logged.

    ik_llama.cpp PR #259 (github.com/ikawrakow/ik_llama.cpp/pull/259) prints "KV self size = 1166.62 MiB,
    c^KV (q8_0): 1166.62 MiB"; llama.cpp's V-less MLA cache holds the same rows.
    """
    est = estimate_llamacpp(_catalog("deepseek-ai/DeepSeek-R1"), _settings(dtype=None, ctx=32768, cache_type_k="q8_0"))
    assert _mib(est.component("kv_cache").bytes) == "1166.62"
