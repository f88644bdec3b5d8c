"""Vision-language wrappers: a text model under ``text_config`` plus a vision tower and projector.

Gemma 3 (SigLIP), Mistral 3 (Pixtral) and Llama 4 (its own ViT); layouts from transformers 5.23,
``src/transformers/models/<type>/modeling_<type>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vram.core.spec import VisionTower
from vram.resolve.mapping.defaults import defaults_for
from vram.resolve.mapping.dense import gemma3_text, mistral
from vram.resolve.mapping.moe import llama4_text
from vram.resolve.mapping.reader import Cfg

Builder = Callable[[Cfg], dict[str, Any]]


def _towers(c: Cfg, text: tuple[str, Builder], vision: str) -> tuple[dict[str, Any], Cfg]:
    """The text model's fields and the vision sub-config.

    The wrapper's own ``tie_word_embeddings`` decides the tied head (transformers reads the
    top-level config); it is read first so the trace names it before text_config's. The text
    config's own flag is kept when it differs: vLLM builds the language model from text_config.
    """
    text_type, build = text
    tied = c.flag("tie_word_embeddings")
    fields = build(c.nested("text_config", text_type, defaults_for(text_type)))
    text_tied = None if fields["tie_word_embeddings"] == tied else fields["tie_word_embeddings"]
    fields = {**fields, "tie_word_embeddings": tied, "text_tie_word_embeddings": text_tied}
    return fields, c.nested("vision_config", vision, defaults_for(vision))


def _vit(v: Cfg) -> dict[str, int]:
    return {
        "hidden_size": v.positive("hidden_size"),
        "intermediate_size": v.positive("intermediate_size"),
        "num_layers": v.positive("num_hidden_layers"),
        "num_channels": v.positive("num_channels"),
        "patch_size": v.positive("patch_size"),
        "image_size": v.positive("image_size"),
    }


def gemma3(c: Cfg) -> dict[str, Any]:
    """Gemma3ForConditionalGeneration: SigLIP tower, projector = RMSNorm + one matrix."""
    fields, v = _towers(c, ("gemma3_text", gemma3_text), "siglip_vision_model")
    return {**fields, "vision": VisionTower(kind="siglip", head=v.flag("vision_use_head"), **_vit(v))}


def mistral3(c: Cfg) -> dict[str, Any]:
    """Mistral3ForConditionalGeneration: Pixtral tower, projector = RMSNorm, patch merger, two matrices.

    The projector's input is ``vision_feature_layer`` layers wide when that is a list.
    """
    fields, v = _towers(c, ("mistral", mistral), "pixtral")
    feature = c.get("vision_feature_layer")
    tower = VisionTower(
        kind="pixtral",
        merge_size=c.positive("spatial_merge_size"),
        feature_layers=len(feature) if isinstance(feature, list) else 1,
        projector_bias=c.flag("multimodal_projector_bias"),
        **_vit(v),
    )
    return {**fields, "vision": tower}


def llama4(c: Cfg) -> dict[str, Any]:
    """Llama4ForConditionalGeneration: Llama 4 ViT with a pixel-shuffle adapter, projector = one matrix."""
    fields, v = _towers(c, ("llama4_text", llama4_text), "llama4_vision_model")
    tower = VisionTower(
        kind="llama4",
        adapter_in=v.positive("projector_input_dim"),
        adapter_out=v.positive("projector_output_dim"),
        output_dim=v.positive("vision_output_dim"),
        **_vit(v),
    )
    return {**fields, "vision": tower}
