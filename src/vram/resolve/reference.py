"""Parse a MODEL argument: a local config, a catalog model, or a bare parameter count."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vram.core.checkpoint import Checkpoint
from vram.core.errors import (
    ConfigFileError,
    EmptyArgumentError,
    GatedModelError,
    HubUnavailableError,
    ModelNotFoundError,
    SettingsError,
)
from vram.core.spec import ModelSpec
from vram.resolve import catalog, hub
from vram.resolve.local import config_path, read_config
from vram.resolve.mapping import spec_from_config
from vram.resolve.safetensors import read_checkpoint

Source = Literal["catalog", "local", "hub", "cache", "parameters"]
"""Where a MODEL argument was resolved (the JSON document's ``model.source``)."""

_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
_MIN_COUNT = 10**5
MAX_COUNT = 10**15
"""Largest bare parameter count (1,000 T, ~500x today's largest models): its fp32 weights stay far inside int64."""
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class Resolved:
    """What a MODEL argument turned into."""

    ref: str
    id: str
    source: Source
    spec: ModelSpec | None
    parameters: int | None = None
    location: str | None = None
    provenance: str | None = None
    checkpoint: Checkpoint | None = None
    revision: str | None = None
    notes: tuple[str, ...] = ()
    config: Mapping[str, Any] | None = None


def parse_parameter_count(text: str) -> int | None:
    """``7b`` -> 7_000_000_000, ``1.5e9`` -> 1_500_000_000, ``125M`` -> 125_000_000; None if not a count.

    Counts below 100,000 are not counts: a bare ``7`` is a typo for ``7b``, not a seven-parameter model.
    Counts above MAX_COUNT are a SettingsError naming the limit.
    """
    m = _COUNT.match(text)
    if m is None:
        return None
    value = float(m.group(1)) * _SCALE[m.group(2).lower()]
    if value < _MIN_COUNT:
        return None  # "7" or "30" is more likely a typo than a model of seven parameters
    if value > MAX_COUNT:
        msg = f"parameter count {text.strip()!r} is above the limit of {MAX_COUNT:,} (1,000T)"
        raise SettingsError(msg)
    return round(value)


def resolve(
    ref: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    offline: bool = False,
    timeout: float = hub.DEFAULT_TIMEOUT,
) -> Resolved:
    """Resolve in order: local path, bundled catalog, parameter count, Hugging Face Hub.

    A local folder's *.safetensors headers (bounded reads) give the exact stored weights. With a
    ``revision`` a repo id skips the catalog (which holds one revision) and goes to the Hub.
    """
    if not ref.strip():
        raise EmptyArgumentError("MODEL")
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return _from_gguf(ref, path)
    if path.exists() or ref.endswith(".json"):
        shadowed = catalog.find_model(ref) if revision is None else None
        if shadowed is not None and path.is_dir() and not (path / "config.json").is_file():
            reason = f"folder has no config.json, and it shadows the catalog model {shadowed.id}"
            raise ConfigFileError(str(path), reason, shadows=shadowed.id)
        file = config_path(path)
        config = read_config(file)
        return Resolved(
            ref=ref,
            id=str(file),
            source="local",
            spec=spec_from_config(config),
            location=str(file.resolve()),
            checkpoint=read_checkpoint(file.parent),
            config=config,
        )
    entry = catalog.find_model(ref) if revision is None else None
    if entry is not None:
        return _from_catalog(ref, entry)
    count = parse_parameter_count(ref)
    if count is not None:
        return Resolved(ref=ref, id=ref.strip(), source="parameters", spec=None, parameters=count)
    repo_id = ref.strip()
    if not _REPO.match(repo_id):
        raise ModelNotFoundError(ref, suggestions=catalog.suggest_models(ref))
    return _from_hub(repo_id, revision=revision, token=token, offline=offline, timeout=timeout)


def _from_catalog(ref: str, entry: catalog.CatalogModel, notes: tuple[str, ...] = ()) -> Resolved:
    prov = entry.provenance
    return Resolved(
        ref=ref,
        id=entry.id,
        source="catalog",
        spec=spec_from_config(entry.config),
        location=prov.config_url,
        provenance=f"values read from {prov.read_from} on {prov.retrieved}",
        config=entry.config,
        notes=notes,
    )


def _from_gguf(ref: str, path: Path) -> Resolved:
    """A local GGUF file: architecture from its metadata, exact weights from its tensor infos."""
    from vram.resolve.gguf_file import config_from_gguf, file_type, gguf_checkpoint, read_gguf

    meta, infos, types = read_gguf(path)
    config = config_from_gguf(meta, infos)
    spec = spec_from_config(config).model_copy(update={"quantization": file_type(meta)})
    return Resolved(
        ref=ref,
        id=str(meta.get("general.name") or path.name),
        source="local",
        spec=spec,
        location=str(path.resolve()),
        checkpoint=gguf_checkpoint(infos, types),
        config=config,
    )


def _from_hub(repo_id: str, *, revision: str | None, token: str | None, offline: bool, timeout: float) -> Resolved:
    try:
        got = hub.fetch(repo_id, revision=revision, token=token, offline=offline, timeout=timeout)
    except ModelNotFoundError as e:
        raise ModelNotFoundError(repo_id, suggestions=catalog.suggest_models(repo_id), on_hub=True) from e
    except GatedModelError as e:
        raise GatedModelError(repo_id, in_catalog=catalog.find_model(repo_id) is not None, reason=e.reason) from e
    except HubUnavailableError as e:
        entry = catalog.find_model(repo_id)
        if entry is None:
            close = catalog.suggest_models(repo_id)
            raise HubUnavailableError(repo_id, e.reason, offline=e.offline, suggestions=close) from e
        note = f"{e.reason}: using the bundled catalog's config for {entry.id} instead of revision {revision!r}"
        return _from_catalog(repo_id, entry, (note,))
    spec = spec_from_config(got.config)
    if spec.quantization is None and got.checkpoint is not None and "F8_E4M3" in got.checkpoint.bytes_by_dtype:
        spec = spec.model_copy(update={"quantization": "fp8"})  # FP8 weights without a quantization_config
    return Resolved(
        ref=repo_id,
        id=repo_id,
        source=got.source,
        spec=spec,
        location=str(got.path),
        checkpoint=got.checkpoint,
        revision=got.revision,
        notes=(got.note,) if got.note else (),
        config=got.config,
    )
