"""config.json -> ModelSpec, one table row per ``model_type`` (pure: a dict in, a spec out).

The package splits the job: ``reader`` (typed reads with their origin), ``layout`` and the family
builders (``dense``, ``classic``, ``moe``, ``multimodal``), ``defaults`` (transformers' config
defaults, as data), ``quantization`` (pre-quantized checkpoints) and ``build`` (the table).
"""

from vram.resolve.mapping.build import FAMILIES, SUPPORTED_MODEL_TYPES, Family, spec_from_config, trace_config
from vram.resolve.mapping.quantization import prequantized_format
from vram.resolve.mapping.reader import Cfg, Origin, Read

__all__ = [
    "FAMILIES",
    "SUPPORTED_MODEL_TYPES",
    "Cfg",
    "Family",
    "Origin",
    "Read",
    "prequantized_format",
    "spec_from_config",
    "trace_config",
]
