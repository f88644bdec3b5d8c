"""The bundled catalogs (models with provenance, GPUs), read from package data."""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict

from vram.core.errors import EmptyArgumentError, MultiGpuError, SettingsError, UnknownGpuError
from vram.core.gpu import Gpu
from vram.core.units import UNIT_BYTES

_DATA = files("vram") / "data"


class Provenance(BaseModel):
    """Where a catalog entry's config values were read."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="allow")

    config_url: str
    read_from: str
    retrieved: str
    cross_checked_with: str | None = None
    notes: str = ""


class CatalogModel(BaseModel):
    """A bundled model: its Hub id, short names, and its real config.json."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    provenance: Provenance
    config: dict[str, Any]


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@cache
def _entries() -> tuple[dict[str, Any], ...]:
    """The raw catalog files, parsed but not validated (lookups validate only the entry they return)."""
    found = sorted((f for f in (_DATA / "models").iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return tuple(json.loads(f.read_bytes()) for f in found)


@cache
def models() -> tuple[CatalogModel, ...]:
    """Every bundled model, validated, sorted by id."""
    return tuple(sorted((CatalogModel.model_validate(e) for e in _entries()), key=lambda m: m.id.lower()))


@cache
def _model_index() -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for e in _entries():
        ident = str(e["id"])
        for key in (ident, ident.split("/", 1)[-1], *e.get("aliases", ())):
            index.setdefault(str(key).lower(), e)
    return index


def find_model(ref: str) -> CatalogModel | None:
    """The catalog entry for a repo id, its name part or an alias (case-insensitive), else None."""
    entry = _model_index().get(ref.strip().lower())
    return None if entry is None else CatalogModel.model_validate(entry)


def suggest_models(ref: str, limit: int = 3) -> tuple[str, ...]:
    """Catalog ids close to ``ref``, best first."""
    index = _model_index()
    hits = difflib.get_close_matches(ref.lower(), list(index), n=limit * 3, cutoff=0.5)
    out: list[str] = []
    for h in hits:
        if index[h]["id"] not in out:
            out.append(index[h]["id"])
    return tuple(out[:limit])


@cache
def gpus() -> tuple[Gpu, ...]:
    """Every bundled GPU, in catalog order."""
    raw = json.loads((_DATA / "gpus.json").read_bytes())
    return tuple(Gpu.model_validate(g) for g in raw["gpus"])


_COUNT = re.compile(r"^\s*(\d+)\s*[x\u00d7*]\s*(\S.*)$", re.IGNORECASE)
_CAPACITY = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*(gib|gb|tib|tb|mib|mb)\s*$", re.IGNORECASE)
MAX_CAPACITY_BYTES = 1 << 50
"""Largest --gpu capacity accepted (1 PiB): far above any accelerator, and keeps every figure within int64."""


def gpu_from_arg(text: str, cards: int = 1) -> Gpu:
    """The GPU a --gpu value names: a catalog card, ``Nx`` a card, or a capacity such as ``24GB`` / ``80GiB``.

    A capacity is taken as exactly what it says (``24GB`` = 24 x 10^9 bytes, ``24GiB`` = 24 x 2^30) and is
    all usable: it is the memory the caller says a process gets. ``Nx`` is accepted when N is ``cards``, the GPUs
    the estimate's layout uses (tp x pp); another N is refused (MultiGpuError).
    """
    if not text.strip():
        raise EmptyArgumentError("--gpu")
    count = _COUNT.match(text)
    if count is not None:
        n, name = int(count.group(1)), count.group(2).strip()
        if n != cards:
            raise MultiGpuError(text, n, name, cards)
        text = name
    capacity = _CAPACITY.match(text)
    if capacity is None:
        return find_gpu(text)
    value = capacity.group(1)
    unit = next(u for u in UNIT_BYTES if u.lower() == capacity.group(2).lower())
    size = capacity_bytes(text, "--gpu")
    return Gpu(
        name=f"{value} {unit}",
        vendor="unspecified",
        architecture="capacity given",
        memory_bytes=size,
        usable_memory_bytes=size,
        usable_basis="the capacity given with --gpu, taken as all usable",
        bf16=True,
        fp8=True,
        source="--gpu",
    )


def capacity_bytes(text: str, option: str) -> int:
    """Bytes of a capacity such as ``24GB`` (24 x 10^9) or ``80GiB`` (80 x 2^30); SettingsError otherwise."""
    capacity = _CAPACITY.match(text)
    if capacity is None:
        msg = f"{option} {text!r} is not a capacity: write it as e.g. 64GB or 64GiB"
        raise SettingsError(msg)
    unit = next(u for u in UNIT_BYTES if u.lower() == capacity.group(2).lower())
    size = round(float(capacity.group(1)) * UNIT_BYTES[unit])
    if not 0 < size <= MAX_CAPACITY_BYTES:
        msg = f"{option} {text!r}: a capacity must be above 0 and at most 1 PiB ({MAX_CAPACITY_BYTES:,} bytes)"
        raise SettingsError(msg)
    return size


def find_gpu(name: str) -> Gpu:
    """A GPU by name or alias, ignoring case, spaces and punctuation ("rtx4090" = "RTX 4090")."""
    key = _norm(name)
    for g in gpus():
        if key in {_norm(n) for n in (g.name, *g.aliases)}:
            return g
    raise UnknownGpuError(name, suggest_gpus(name))


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+|\d+", text.lower()))


def _closeness(query: str, name: str) -> float:
    """Spelling similarity, a bonus for the same digits in another order (4900 typed for 4090) and one
    per shared word, model numbers (3+ digits) weighing most."""
    ratio = difflib.SequenceMatcher(None, _norm(query), _norm(name)).ratio()
    digits = sorted(re.findall(r"\d", query))
    if digits and digits == sorted(re.findall(r"\d", name)):
        ratio += 0.1
    shared = _tokens(query) & _tokens(name)
    return ratio + 0.1 * sum(3 if t.isdigit() and len(t) >= 3 else 1 for t in shared)


def suggest_gpus(name: str, limit: int = 3) -> tuple[str, ...]:
    """Catalog GPU names closest to ``name``, best first (none when nothing is close)."""
    scored = [(max(_closeness(name, n) for n in (g.name, *g.aliases)), g.name) for g in gpus()]
    ranked = sorted((s for s in scored if s[0] >= 0.6), key=lambda s: -s[0])
    return tuple(n for _, n in ranked[:limit])
