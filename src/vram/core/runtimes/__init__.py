"""One entry point per runtime: which allocation rules an estimate follows (``vram estimate --runtime``)."""

from __future__ import annotations

from vram.core import inference
from vram.core.checkpoint import Checkpoint
from vram.core.errors import SettingsError
from vram.core.gpu import Fit, Gpu, check_fit
from vram.core.inference import InferenceEstimate, InferenceSettings
from vram.core.spec import ModelSpec


def estimate_runtime(
    spec: ModelSpec, settings: InferenceSettings, checkpoint: Checkpoint | None = None, gpu: Gpu | None = None
) -> InferenceEstimate:
    """The estimate for ``settings.runtime``: vLLM's memory plan, or transformers' single-GPU pass."""
    if settings.runtime == "vllm":
        from vram.core.runtimes.vllm import estimate_vllm

        return estimate_vllm(spec, settings, gpu)
    if settings.tp > 1 or settings.pp > 1:
        msg = f"--tp and --pp are modelled for --runtime vllm; --runtime {settings.runtime} runs on one GPU here"
        raise SettingsError(msg)
    if settings.runtime == "llama.cpp":
        from vram.core.runtimes.llamacpp import estimate_llamacpp

        return estimate_llamacpp(spec, settings)
    return inference.estimate_inference(spec, settings, checkpoint)  # looked up at call time: patchable


def runtime_fit(estimate: InferenceEstimate, gpu: Gpu) -> Fit:
    """The verdict for one GPU; for vLLM, whether it would start (one max-length request fits the KV pool)."""
    fit = check_fit(estimate, gpu)
    if estimate.runtime != "vllm":
        return fit
    facts = estimate.runtime_facts
    headroom = int(facts["kv_cache_memory_bytes"]) - int(facts["kv_needed_bytes"])
    return fit.model_copy(update={"fits": bool(facts["fits"]), "headroom_bytes": headroom})
