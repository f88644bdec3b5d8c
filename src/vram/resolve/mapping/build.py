"""config.json -> ModelSpec: one table row per ``model_type`` (pure: a dict in, a spec out).

Each row names the transformers class it mirrors, llama.cpp's name for the architecture, and the
builder that reads the config. Absent keys get the transformers class default (``defaults.py``;
absence matters: ``tie_word_embeddings`` defaults to True for Gemma and False for Llama).
A ``model_type`` without a row gets an approximate llama-like spec when the standard fields are
there (``exact=False``, every assumption listed), or an error naming the missing field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from vram.core.errors import MissingFieldError, SpecError, UnsupportedArchitectureError
from vram.core.spec import GgufArch, ModelSpec
from vram.resolve.mapping import classic, dense, moe, multimodal
from vram.resolve.mapping.defaults import defaults_for
from vram.resolve.mapping.quantization import prequantized_format
from vram.resolve.mapping.reader import Cfg, Read


@dataclass(frozen=True)
class Family:
    """How one model_type maps to a spec."""

    architecture: str
    gguf_arch: GgufArch | None
    build: Callable[[Cfg], dict[str, Any]]


# llama.cpp names: src/llama-arch.cpp LLM_ARCH_NAMES; Mistral, Mixtral and Mistral 3's text model
# convert to "llama" (convert_hf_to_gguf.py registers them on LlamaModel); OPT has no llama.cpp arch.
FAMILIES: dict[str, Family] = {
    "llama": Family("LlamaForCausalLM", "llama", dense.llama),
    "granite": Family("GraniteForCausalLM", "granite", dense.llama),
    "mistral": Family("MistralForCausalLM", "llama", dense.mistral),
    "mixtral": Family("MixtralForCausalLM", "llama", moe.mixtral),
    "qwen2": Family("Qwen2ForCausalLM", "qwen2", dense.qwen2),
    "qwen2_moe": Family("Qwen2MoeForCausalLM", "qwen2moe", moe.qwen2_moe),
    "qwen3": Family("Qwen3ForCausalLM", "qwen3", dense.qwen3),
    "qwen3_moe": Family("Qwen3MoeForCausalLM", "qwen3moe", moe.qwen3_moe),
    "gemma": Family("GemmaForCausalLM", "gemma", dense.gemma),
    "gemma2": Family("Gemma2ForCausalLM", "gemma2", dense.gemma2),
    "gemma3_text": Family("Gemma3ForCausalLM", "gemma3", dense.gemma3_text),
    "gemma3": Family("Gemma3ForConditionalGeneration", "gemma3", multimodal.gemma3),
    "phi": Family("PhiForCausalLM", "phi2", classic.phi),
    "phi3": Family("Phi3ForCausalLM", "phi3", dense.phi3),
    "gpt2": Family("GPT2LMHeadModel", "gpt2", classic.gpt2),
    "gpt_bigcode": Family("GPTBigCodeForCausalLM", "starcoder", classic.gpt_bigcode),
    "gpt_neox": Family("GPTNeoXForCausalLM", "gptneox", classic.gpt_neox),
    "falcon": Family("FalconForCausalLM", "falcon", classic.falcon),
    "opt": Family("OPTForCausalLM", None, classic.opt),
    "bloom": Family("BloomForCausalLM", "bloom", classic.bloom),
    "starcoder2": Family("Starcoder2ForCausalLM", "starcoder2", classic.starcoder2),
    "olmo2": Family("Olmo2ForCausalLM", "olmo2", dense.olmo2),
    "cohere": Family("CohereForCausalLM", "command-r", dense.cohere),
    "stablelm": Family("StableLmForCausalLM", "stablelm", dense.stablelm),
    "deepseek_v2": Family("DeepseekV2ForCausalLM", "deepseek2", moe.deepseek),
    "deepseek_v3": Family("DeepseekV3ForCausalLM", "deepseek2", moe.deepseek),
    "gpt_oss": Family("GptOssForCausalLM", "gpt-oss", moe.gpt_oss),
    "llama4_text": Family("Llama4ForCausalLM", "llama4", moe.llama4_text),
    "llama4": Family("Llama4ForConditionalGeneration", "llama4", multimodal.llama4),
    "mistral3": Family("Mistral3ForConditionalGeneration", "llama", multimodal.mistral3),
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(FAMILIES))

_STRUCTURAL = frozenset(
    {"vocab_size", "hidden_size", "n_embd", "num_hidden_layers", "n_layer", "num_attention_heads", "n_head"}
    | {"intermediate_size", "num_key_value_heads", "ffn_dim"}
)
"""Fields whose absence we report: a config without them is more likely broken than minimal."""

_STANDARD_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def _approximate(data: Mapping[str, Any], model_type: str, trace: list[Read]) -> ModelSpec:
    """Llama-like spec from the standard fields, for a model_type without a table row."""
    missing = [k for k in _STANDARD_FIELDS if data.get(k) is None]
    if missing:
        msg = (
            f"model_type {model_type!r} is not supported and its config lacks the standard field(s) "
            f"{', '.join(missing)} needed for an approximate estimate"
        )
        raise UnsupportedArchitectureError(msg, model_type=model_type, field=missing[0])
    fields = dense.llama(Cfg(data, model_type, {}, trace))
    fields["approximations"] = (
        f"model_type {model_type!r} has no exact mapping: counted as a Llama-style decoder "
        "(gated MLP, RMSNorm, q/k/v/o projections) from the standard config fields",
    )
    return _spec(model_type, data, "unknown", None, fields, exact=False)


def _dtype(data: Mapping[str, Any]) -> str | None:
    """``torch_dtype`` (or ``dtype``, its transformers 5 name); wrappers may keep it in text_config."""
    value = data.get("torch_dtype") or data.get("dtype")
    if value is None and isinstance(data.get("text_config"), dict):
        return _dtype(data["text_config"])
    return str(value) if value is not None else None


def _spec(
    model_type: str,
    data: Mapping[str, Any],
    architecture: str,
    gguf_arch: GgufArch | None,
    fields: dict[str, Any],
    *,
    exact: bool = True,
) -> ModelSpec:
    archs = data.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        architecture = archs[0]
    return ModelSpec(
        model_type=model_type,
        architecture=architecture,
        gguf_arch=gguf_arch,
        exact=exact,
        torch_dtype=_dtype(data),
        quantization=prequantized_format(data),
        **fields,
    )


def spec_from_config(data: Mapping[str, Any]) -> ModelSpec:
    """Build the ModelSpec for a parsed config.json (exact for supported model_types).

    Every failure is a SpecError naming the field: a value pydantic rejects (a size of 0, a
    top-k above the expert count...) is reported with its location, never as a traceback.
    """
    return trace_config(data)[0]


def trace_config(data: Mapping[str, Any]) -> tuple[ModelSpec, list[Read]]:
    """The ModelSpec and every config value used to build it, with its origin (for ``vram inspect``)."""
    trace: list[Read] = []
    try:
        return _build(data, trace), trace
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "config"
        msg = f"invalid config: {e.title} {where}: {first['msg']}"
        model_type = data.get("model_type") if isinstance(data, Mapping) else None
        raise SpecError(msg, model_type=str(model_type), field=where) from None


def _build(data: Mapping[str, Any], trace: list[Read]) -> ModelSpec:
    if not isinstance(data, Mapping):
        msg = "config.json must hold a JSON object"
        raise SpecError(msg)
    model_type = data.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise MissingFieldError("model_type")
    family = FAMILIES.get(model_type)
    if family is None:
        text = data.get("text_config")
        if isinstance(text, dict) and isinstance(text.get("model_type"), str) and text["model_type"] in FAMILIES:
            inner = _build(text, trace)
            note = (
                f"model_type {model_type!r} is a multimodal wrapper: only its text model "
                f"({text['model_type']}) is counted; the vision/audio towers are not"
            )
            return inner.model_copy(update={"model_type": model_type, "exact": False, "approximations": (note,)})
        return _approximate(data, model_type, trace)
    fields = family.build(Cfg(data, model_type, defaults_for(model_type), trace))
    assumed = tuple(
        f"config.json has no {r.key!r}: transformers' default for {model_type} ({r.value!r}) was used"
        for r in trace
        if r.origin == "transformers default" and r.key.rpartition(".")[2] in _STRUCTURAL
    )
    fields["approximations"] = tuple(dict.fromkeys((*fields.get("approximations", ()), *assumed)))
    return _spec(model_type, data, family.architecture, family.gguf_arch, fields)
