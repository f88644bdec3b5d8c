"""vLLM's memory plan against startup logs vLLM printed, and its KV arithmetic worked by hand.

Published figures: llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md (vLLM on
H100s reporting 79.18 GiB total, gpu_memory_utilization 0.9, max-model-len 16000, default batch
limits); vllm-project/vllm pull request 12569 (a "Maximum concurrency" line); vllm-project/vllm
issue 25350 (an fp8 KV cache's "GPU KV cache size" and concurrency lines).
"""

from __future__ import annotations

from collections import Counter

import pytest

from vram.core.errors import SettingsError
from vram.core.gpu import Gpu
from vram.core.inference import InferenceEstimate, InferenceSettings, VllmSettings
from vram.core.runtimes import estimate_runtime
from vram.core.runtimes.vllm import batch_defaults, kv_plan, num_blocks
from vram.core.spec import ModelSpec
from vram.resolve import resolve
from vram.resolve.catalog import find_gpu, gpu_from_arg

GIB = 1 << 30
H100_LOGGED = gpu_from_arg("79.18GiB")  # the total vLLM's "Free memory on device (78.57/79.18 GiB)" line names


def _spec(name: str) -> ModelSpec:
    spec = resolve(name, offline=True).spec
    assert spec is not None
    return spec


def _vllm(name: str, gpu: Gpu = H100_LOGGED, **kw: object) -> InferenceEstimate:
    vllm = VllmSettings(**{"max_model_len": 16000, **{k: v for k, v in kw.items() if k in VllmSettings.model_fields}})
    rest = {k: v for k, v in kw.items() if k not in VllmSettings.model_fields}
    return estimate_runtime(_spec(name), InferenceSettings(runtime="vllm", vllm=vllm, **rest), None, gpu)  # type: ignore[arg-type]


def _gib(e: InferenceEstimate, component: str) -> float:
    return e.component(component).bytes / GIB


def test_llama_8b_h100_log_end_to_end() -> None:
    """Llama-3.1-8B on an H100: weights 14.99, peak 4.76, non-torch 0.13, pool 51.38 GiB as vLLM logged them.

    Tokens and concurrency by hand from the logged pool: 51.38 GiB / (32 layers x 16 tokens x 2 x 8 heads
    x 128 x 2 B) = 26,306 blocks = 420,896 tokens; 26,306 / (16,000 / 16) = 26.31x.
    """
    e = _vllm("meta-llama/Llama-3.1-8B")
    f = e.runtime_facts
    assert round(_gib(e, "weights"), 2) == 14.99
    assert _gib(e, "activations") == pytest.approx(4.76, rel=0.02)
    assert e.component("overhead").details["non_torch_bytes"] / GIB == pytest.approx(0.13, abs=0.005)
    assert int(f["kv_cache_memory_bytes"]) / GIB == pytest.approx(51.38, rel=0.005)
    assert int(f["kv_cache_tokens"]) == pytest.approx(420_896, rel=0.005)
    assert float(f["max_concurrency"]) == pytest.approx(26.31, rel=0.005)
    assert f["max_num_batched_tokens"] == 8192
    assert f["max_num_seqs"] == 1024


def test_llama_70b_fp8_tp2_log() -> None:
    """Llama-3.3-70B FP8 at TP=2: per GPU weights 33.88, peak 4.84, non-torch 0.55, pool 32.0 GiB as logged."""
    e = _vllm("meta-llama/Llama-3.3-70B-Instruct", dtype="fp8", tp=2)
    assert _gib(e, "weights") == pytest.approx(33.88, rel=0.005)
    assert _gib(e, "activations") == pytest.approx(4.84, rel=0.02)
    assert e.component("overhead").details["non_torch_bytes"] / GIB == pytest.approx(0.55, abs=0.005)
    assert int(e.runtime_facts["kv_cache_memory_bytes"]) / GIB == pytest.approx(32.0, rel=0.01)
    assert e.tp == 2


@pytest.mark.parametrize(
    ("model", "weights", "peak"),
    [("openai/gpt-oss-20b", 13.47, 7.38), ("Qwen/Qwen3-0.6B", 1.12, 5.56), ("Qwen/Qwen3-32B", 61.03, 5.64)],
)
def test_weights_and_peak_match_logs(model: str, weights: float, peak: float) -> None:
    """Weights within 0.5% (gpt-oss with vLLM's MXFP4 padding) and the profiled peak within 2% of vLLM's logs."""
    e = _vllm(model)
    assert _gib(e, "weights") == pytest.approx(weights, rel=0.005)
    assert _gib(e, "activations") == pytest.approx(peak, rel=0.02)


def test_concurrency_line_of_pr_12569() -> None:
    """1,381 blocks at max-model-len 2,048 print "10.79x" (1,381 / 128) and 22,096 tokens (Llama-3.1-70B)."""
    spec = _spec("meta-llama/Llama-3.1-70B")
    page = 16 * 2 * 8 * 128 * 2  # tokens and concurrency do not depend on the page size
    plan = kv_plan(spec, Counter(spec.layer_types), 1381, page, block_size=16, max_model_len=2048, tokens=8192)
    assert plan.tokens == 22_096
    assert f"{plan.concurrency:.2f}" == "10.79"


def test_fp8_cache_line_of_issue_25350() -> None:
    """10.55 GiB of fp8 cache, 48 layers x 4 KV heads x 128: the logged 230,528 tokens (to the GiB's rounding);
    its 14,408 blocks print "2.31x" at 100,000 tokens (14,408 / 6,250)."""
    spec = _spec("Qwen/Qwen3-30B-A3B")
    layers = Counter(spec.layer_types)
    page = 16 * 2 * 4 * 128 * 1
    blocks = num_blocks(layers, round(10.55 * GIB), page)
    plan = kv_plan(spec, layers, blocks, page, block_size=16, max_model_len=100_000, tokens=8192)
    assert plan.tokens == pytest.approx(230_528, rel=0.001)
    logged = kv_plan(spec, layers, 230_528 // 16, page, block_size=16, max_model_len=100_000, tokens=8192)
    assert f"{logged.concurrency:.2f}" == "2.31"


def test_hybrid_sliding_groups_by_hand() -> None:
    """gpt-oss-20b: 12 sliding (window 128) + 12 full layers form 2 groups of 12 sharing one pool.

    1,000 blocks: 1,000 // 2 x 16 = 8,000 tokens; one 16,000-token request takes 1,000 full blocks plus
    ceil(min(127 + 8,192, 16,000) / 16) + 1 = 521 sliding blocks, so concurrency 1,000 / 1,521.
    """
    spec = _spec("openai/gpt-oss-20b")
    layers = Counter(spec.layer_types)
    assert layers == Counter({"sliding": 12, "full": 12})
    plan = kv_plan(spec, layers, 1000, 1, block_size=16, max_model_len=16000, tokens=8192)
    assert (plan.groups, plan.layers_per_group, plan.tokens) == (2, 12, 8000)
    assert plan.concurrency == pytest.approx(1000 / 1521)


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [("H100 SXM", (8192, 1024)), ("A100 80GB SXM", (2048, 256)), ("RTX 4090", (2048, 256))],
)
def test_serve_batch_defaults(gpu: str, expected: tuple[int, int]) -> None:
    """vllm serve's defaults: 8,192 tokens / 1,024 seqs on 70 GiB+ cards except the A100, else 2,048 / 256."""
    assert batch_defaults(find_gpu(gpu), 32_768, VllmSettings()) == expected


def test_short_max_model_len_caps_the_token_budget() -> None:
    """With max-model-len 4 the default budget is min(256 x 4, 2,048) = 1,024 tokens (arg_utils.py)."""
    assert batch_defaults(find_gpu("RTX 4090"), 4, VllmSettings()) == (1024, 256)


def test_pipeline_stages_split_weights_and_keep_fewest_blocks() -> None:
    """PP=2 puts about half the weights on each GPU, and more KV tokens fit than on one GPU."""
    one = _vllm("meta-llama/Llama-3.1-8B")
    two = _vllm("meta-llama/Llama-3.1-8B", pp=2)
    assert _gib(two, "weights") == pytest.approx(_gib(one, "weights") / 2, rel=0.05)
    assert int(two.runtime_facts["kv_cache_tokens"]) > int(one.runtime_facts["kv_cache_tokens"])


def test_tensor_parallel_never_holds_more_per_gpu() -> None:
    """TP=2 per-GPU weights are at most TP=1's, and the KV pool per GPU at least as large."""
    one = _vllm("Qwen/Qwen2.5-7B")
    two = _vllm("Qwen/Qwen2.5-7B", tp=2)
    assert two.component("weights").bytes < one.component("weights").bytes
    assert two.component("kv_cache").bytes >= one.component("kv_cache").bytes


def test_needs_a_gpu() -> None:
    """Without a GPU there is no pool to size: a SettingsError says to pass --gpu."""
    with pytest.raises(SettingsError, match="--gpu"):
        estimate_runtime(_spec("Qwen/Qwen2.5-7B"), InferenceSettings(runtime="vllm"))


def test_refuses_llama_cpp_cache_types() -> None:
    """q8_0 is a llama.cpp cache type, not a vLLM --kv-cache-dtype."""
    with pytest.raises(SettingsError, match="kv-cache-dtype"):
        _vllm("Qwen/Qwen2.5-7B", kv_dtype="q8_0")


def test_does_not_start_when_one_request_does_not_fit() -> None:
    """Qwen2.5-72B in bf16 does not load on one H100: vLLM would not start, and a warning says why."""
    e = _vllm("Qwen/Qwen2.5-72B")
    assert e.runtime_facts["fits"] is False
    assert any("refuse to start" in w for w in e.warnings)


def test_enforce_eager_drops_cuda_graphs() -> None:
    """--enforce-eager captures no CUDA graphs: the overhead loses exactly the graph pool, the KV pool is unchanged."""
    graphs = _vllm("meta-llama/Llama-3.1-8B")
    eager = _vllm("meta-llama/Llama-3.1-8B", enforce_eager=True)
    assert eager.component("overhead").details["cuda_graph_bytes"] == 0
    drop = graphs.component("overhead").bytes - eager.component("overhead").bytes
    assert drop == graphs.component("overhead").details["cuda_graph_bytes"]
    assert eager.runtime_facts["kv_cache_tokens"] == graphs.runtime_facts["kv_cache_tokens"]


def test_fp8_cache_doubles_the_tokens() -> None:
    """An fp8 KV cache halves the page, so the same pool holds twice the tokens (to one block per group)."""
    bf16 = _vllm("meta-llama/Llama-3.1-8B")
    fp8 = _vllm("meta-llama/Llama-3.1-8B", kv_dtype="fp8")
    assert int(fp8.runtime_facts["kv_cache_tokens"]) == pytest.approx(
        2 * int(bf16.runtime_facts["kv_cache_tokens"]), abs=16
    )


def test_fewer_seqs_shrink_the_sampler_peak() -> None:
    """max-num-seqs 256 leaves the sampler 256 rows: 256 x 128,256 logits x 38 B, beside 8,192 x 4,096 bf16 states."""
    e = _vllm("meta-llama/Llama-3.1-8B", max_num_seqs=256)
    assert e.component("activations").bytes == 256 * 128_256 * 38 + 8192 * 4096 * 2


def test_vision_wrapper_loads_the_text_configs_untied_head() -> None:
    """Mistral-Small-3.x on vLLM: 44.76 GiB of weights as logged (llm-d results page, Mistral-Small-3.2 section).

    vLLM builds the language model from text_config (MistralConfig: untied), so it holds the lm_head the
    wrapper's transformers-5 default would tie: 23,340,272,640 + 131,072 x 5,120 = 24,011,361,280
    parameters x 2 B = 44.72 GiB, plus the 131,072 x 128 x 2 B rotary cache (0.03 GiB).
    """
    e = _vllm(
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        gpu=gpu_from_arg("79.19GiB"),
        gpu_memory_utilization=0.95,
        block_size=128,
        max_num_batched_tokens=8192,
    )
    assert round(_gib(e, "weights"), 2) == 44.76
    assert _spec("mistralai/Mistral-Small-3.1-24B-Instruct-2503").tie_word_embeddings  # transformers' view unchanged


@pytest.mark.parametrize(
    ("tp", "utilization", "logged"),
    [(1, 0.25, 5.01), (1, 0.5, 24.83), (2, 0.25, 12.02), (2, 0.5, 31.83)],
)
def test_flashinfer_sampler_pool_of_vllm_0_10_on_a100(tp: int, utilization: float, logged: float) -> None:
    """Qwen2-7B on A100 80GB under vLLM 0.10.1.1 (FlashInfer sampling): the logged KV pool within 5%.

    dennislee22/vLLM-benchmarking log/vllm-7B-*.log: "Using FlashInfer for top-p & top-k sampling", "Available KV
    cache memory", max_num_batched_tokens 2048, max_model_len 16384; the A100 keeps the 256-sequence default, so
    the peak is 256 rows x 152,064 logits x 14 B beside 2,048 x 3,584 bf16 hidden states.
    """
    e = _vllm(
        "Qwen/Qwen2.5-7B",
        gpu=find_gpu("A100 80GB SXM"),
        gpu_memory_utilization=utilization,
        max_model_len=16384,
        max_num_batched_tokens=2048,
        tp=tp,
        flashinfer_sampler=True,
    )
    assert e.component("activations").bytes == 256 * 152_064 * 14 + 2048 * 3584 * 2
    assert int(e.runtime_facts["kv_cache_memory_bytes"]) / GIB == pytest.approx(logged, rel=0.05)
    assert not any("FlashInfer" in w for w in e.warnings)


def test_sort_sampler_names_the_flashinfer_alternative() -> None:
    """Without --flashinfer-sampler a warning gives FlashInfer's peak: 1,024 x 128,256 x 14 B + 8,192 x 4,096 x 2 B."""
    e = _vllm("meta-llama/Llama-3.1-8B")
    fi = (1024 * 128_256 * 14 + 8192 * 4096 * 2) / GIB
    assert any(f"peaks at {fi:.2f} GiB" in w for w in e.warnings)
