"""The JSON contracts of ``vram models``, ``vram gpus`` and ``vram dtypes`` (schema_version 1).

Each document is a pydantic model like the estimate's; ``docs/schema/{models,gpus,dtypes}-v1.json``
are generated from them and a test fails when they drift apart. GPUs and formats are the catalog's
own types, so a field added to the catalog appears here (and in the schema) without a copy.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel

from vram.core.dtypes import ALIASES, FORMATS, Format
from vram.core.gpu import Gpu
from vram.core.inference import default_dtype
from vram.core.params import count_parameters
from vram.report.document import SCHEMA_VERSION, _Doc
from vram.resolve.catalog import gpus as catalog_gpus
from vram.resolve.catalog import models as catalog_models
from vram.resolve.mapping import spec_from_config


class ModelEntry(_Doc):
    """One bundled catalog model with its exact parameter counts."""

    id: str
    aliases: list[str]
    model_type: str
    parameters: int
    active_parameters: int
    dtype: str
    max_context: int | None
    config_url: str


class ModelsDocument(_Doc):
    """Top level of ``vram models --json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["models"] = "models"
    models: list[ModelEntry]


class GpusDocument(_Doc):
    """Top level of ``vram gpus --json``: the GPU catalog as bundled."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["gpus"] = "gpus"
    gpus: list[Gpu]


class DtypesDocument(_Doc):
    """Top level of ``vram dtypes --json``: every weight format and the aliases ``--dtype`` accepts."""

    schema_version: Literal[1] = SCHEMA_VERSION
    command: Literal["dtypes"] = "dtypes"
    formats: list[Format]
    aliases: dict[str, str]


def models_document() -> ModelsDocument:
    """The bundled model catalog, each model counted from its config."""
    entries = []
    for m in catalog_models():
        spec = spec_from_config(m.config)
        count = count_parameters(spec)
        entries.append(
            ModelEntry(
                id=m.id,
                aliases=list(m.aliases),
                model_type=spec.model_type,
                parameters=count.total,
                active_parameters=count.active,
                dtype=default_dtype(spec),
                max_context=spec.max_position_embeddings,
                config_url=m.provenance.config_url,
            )
        )
    return ModelsDocument(models=entries)


def gpus_document() -> GpusDocument:
    """The bundled GPU catalog."""
    return GpusDocument(gpus=list(catalog_gpus()))


def dtypes_document() -> DtypesDocument:
    """The weight formats and their aliases."""
    return DtypesDocument(formats=list(FORMATS.values()), aliases=dict(ALIASES))


def render_json(doc: BaseModel) -> str:
    """A listing document as indented JSON text."""
    return json.dumps(doc.model_dump(mode="json"), indent=2)


SCHEMAS: dict[str, type[BaseModel]] = {"models": ModelsDocument, "gpus": GpusDocument, "dtypes": DtypesDocument}
"""Each listing command's document model, by command name (docs/schema/<command>-v1.json)."""


def json_schema(command: str) -> dict[str, object]:
    """JSON Schema of one listing document, as committed in docs/schema/<command>-v1.json."""
    return SCHEMAS[command].model_json_schema(mode="serialization")
