"""MODEL arguments: local paths, catalog names and aliases, parameter counts, and what fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vram.core.errors import ConfigFileError, HubUnavailableError, ModelNotFoundError, SpecError
from vram.resolve import catalog
from vram.resolve.local import MAX_CONFIG_BYTES, read_config
from vram.resolve.reference import parse_parameter_count, resolve

from ..conftest import FIXTURES


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("7b", 7_000_000_000),
        ("70B", 70_000_000_000),
        ("1.5e9", 1_500_000_000),
        ("125m", 125_000_000),
        ("7000559616", 7_000_559_616),
        ("0.5B", 500_000_000),
    ],
)
def test_parameter_counts(text: str, count: int) -> None:
    """Counts with suffixes, exponents or as plain integers are understood."""
    assert count == parse_parameter_count(text)


@pytest.mark.parametrize("text", ["7", "llama", "7bb", "", "1e3"])
def test_not_parameter_counts(text: str) -> None:
    """Tiny or malformed counts are not taken for a model size."""
    assert parse_parameter_count(text) is None


@pytest.mark.parametrize("ref", ["Qwen/Qwen2.5-7B", "qwen/qwen2.5-7b", "Qwen2.5-7B", "qwen2.5-7b", " QWEN2.5-7B "])
def test_catalog_lookup_is_case_insensitive(ref: str) -> None:
    """Catalog models resolve by id, name part or alias, in any case."""
    resolved = resolve(ref)
    assert ("Qwen/Qwen2.5-7B", "catalog") == (resolved.id, resolved.source)
    assert resolved.provenance
    assert "read from" in resolved.provenance


def test_local_folder_and_file(tmp_path: Path) -> None:
    """A folder with config.json and the file itself both resolve, as local."""
    src = FIXTURES / "configs" / "qwen3-small.json"
    (tmp_path / "config.json").write_text(src.read_text())
    by_folder, by_file = resolve(str(tmp_path)), resolve(str(tmp_path / "config.json"))
    assert "local" == by_folder.source == by_file.source
    assert by_folder.spec == by_file.spec


def test_local_path_wins_over_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder named like a catalog alias is read from disk first."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "qwen2.5-7b"
    folder.mkdir()
    (folder / "config.json").write_text((FIXTURES / "configs" / "qwen2-small.json").read_text())
    assert "local" == resolve("qwen2.5-7b").source


def test_near_miss_suggests_catalog_names() -> None:
    """A name that is neither a catalog entry nor a repo id is refused with close suggestions."""
    with pytest.raises(ModelNotFoundError) as info:
        resolve("qwen2.5-8b")
    assert "Qwen/Qwen2.5-7B" in info.value.suggestions


def test_repo_id_offline_without_cache() -> None:
    """A repo id outside the catalog goes to the Hub; offline with an empty cache that is a HubUnavailableError."""
    with pytest.raises(HubUnavailableError, match="offline"):
        resolve("Qwen/Qwen2.5-8B", offline=True)


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    """A config.json beyond the size bound is refused without being parsed."""
    big = tmp_path / "config.json"
    big.write_bytes(b"{" + b" " * (MAX_CONFIG_BYTES + 10) + b"}")
    with pytest.raises(ConfigFileError, match="larger than"):
        read_config(big)


@pytest.mark.parametrize(("content", "reason"), [(b"[1, 2]", "JSON object"), (b"\xff\xfe", "UTF-8"), (b"{", "JSON")])
def test_bad_config_files(tmp_path: Path, content: bytes, reason: str) -> None:
    """Non-object JSON, binary junk and truncated JSON each get their own message."""
    f = tmp_path / "config.json"
    f.write_bytes(content)
    with pytest.raises(ConfigFileError, match=reason):
        read_config(f)


def test_folder_without_config(tmp_path: Path) -> None:
    """A folder without config.json says so."""
    with pytest.raises(ConfigFileError, match=r"no config\.json"):
        resolve(str(tmp_path))


def test_catalog_entries_are_unique_and_sourced() -> None:
    """Every catalog model has a distinct id and aliases, a config URL and where its values were read."""
    seen: set[str] = set()
    for m in catalog.models():
        keys = {m.id.lower(), *(a.lower() for a in m.aliases)}
        assert not keys & seen, keys & seen
        seen |= keys
        assert m.provenance.config_url.startswith("https://huggingface.co/")
        assert m.provenance.read_from
        assert m.config["model_type"]


def test_layer_types_must_match_layers() -> None:
    """A layer_types list of the wrong length is a SpecError, not a silent truncation."""
    cfg = json.loads((FIXTURES / "configs" / "gemma2-small.json").read_text())
    cfg["layer_types"] = ["full_attention"]
    from vram.resolve.mapping import spec_from_config

    with pytest.raises(SpecError, match="layer_types"):
        spec_from_config(cfg)


def test_unreachable_hub_falls_back_to_the_catalog() -> None:
    """A catalog model asked at a revision, with no Hub and no cache, falls back to the catalog and says so."""
    resolved = resolve("Qwen/Qwen2.5-7B", revision="v1", offline=True)
    assert "catalog" == resolved.source
    assert "bundled catalog" in resolved.notes[0]


def test_prequantized_formats_from_quantization_config() -> None:
    """quantization_config names the stored format (GPTQ, AWQ, bitsandbytes, FP8, MXFP4, compressed-tensors)."""
    from vram.resolve.mapping import prequantized_format

    cases = {
        "gptq-int4-g128": {"quant_method": "gptq", "bits": 4, "group_size": 128},
        "awq-int4-g64": {"quant_method": "awq", "w_bit": 4, "q_group_size": 64},
        "nf4-dq": {"quant_method": "bitsandbytes", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True},
        "bnb-int8": {"quant_method": "bitsandbytes", "load_in_8bit": True},
        "fp8-block": {"quant_method": "fp8", "weight_block_size": [128, 128]},
        "mxfp4": {"quant_method": "mxfp4"},
        "fp8": {
            "quant_method": "compressed-tensors",
            "config_groups": {"g0": {"weights": {"type": "float", "num_bits": 8}}},
        },
    }
    for expected, q in cases.items():
        assert expected == prequantized_format({"quantization_config": q})
    assert prequantized_format({"quantization_config": {"quant_method": "gptq", "bits": 5}}) is None


def test_fp8_weights_without_quantization_config_are_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Hub repo whose safetensors hold F8_E4M3 and whose config names no quantization resolves as fp8."""
    from vram.core.checkpoint import Checkpoint
    from vram.resolve import hub

    config = json.loads((FIXTURES / "configs" / "granite-small.json").read_text())
    config.pop("quantization_config", None)
    stored = {"F8_E4M3": 1000, "BF16": 10}

    def fake_fetch(repo_id: str, **_kw: object) -> hub.HubConfig:
        ckpt = Checkpoint(
            source="safetensors", parameters_by_dtype=stored, bytes_by_dtype={"F8_E4M3": 1000, "BF16": 20}
        )
        return hub.HubConfig(config=config, source="hub", revision="abc", path=FIXTURES, checkpoint=ckpt)

    monkeypatch.setattr(hub, "fetch", fake_fetch)
    resolved = resolve("someone/fp8-model")
    assert resolved.spec is not None
    assert "fp8" == resolved.spec.quantization
    stored.pop("F8_E4M3")
    monkeypatch.setattr(
        hub,
        "fetch",
        lambda repo_id, **_kw: hub.HubConfig(
            config=config,
            source="hub",
            revision="abc",
            path=FIXTURES,
            checkpoint=Checkpoint(source="safetensors", parameters_by_dtype={"BF16": 10}, bytes_by_dtype={"BF16": 20}),
        ),
    )
    plain = resolve("someone/bf16-model")
    assert plain.spec is not None
    assert plain.spec.quantization is None


@pytest.mark.parametrize("text", ["1e20", "2000T", "1e400"])
def test_parameter_counts_above_the_limit_are_refused(text: str) -> None:
    """Counts above 10^15 are a SettingsError naming the limit (their bytes would leave int64 behind)."""
    from vram.core.errors import SettingsError

    with pytest.raises(SettingsError, match="1,000,000,000,000,000"):
        parse_parameter_count(text)


def test_empty_reference_is_refused() -> None:
    """An empty MODEL is an EmptyArgumentError, not the current folder."""
    from vram.core.errors import EmptyArgumentError

    with pytest.raises(EmptyArgumentError, match="empty"):
        resolve("  ")


def test_gpu_catalog_usable_memory_is_sourced() -> None:
    """Every GPU's usable memory is at most its nominal memory and says where it comes from."""
    for g in catalog.gpus():
        assert 0 < g.usable_memory_bytes <= g.memory_bytes, g.name
        assert g.usable_basis, g.name


def test_gpu_catalog_cites_only_public_sources() -> None:
    """Shipped GPU notes cite public documents, never how the data was gathered."""
    text = (Path(catalog.__file__).parent.parent / "data" / "gpus.json").read_text().lower()
    for word in (
        "brief rule",
        "brief's",
        "brief convention",
        "matches brief",
        "helper",
        "code-search",
        "read_file",
        "subagent",
        "not resolvable",
    ):
        assert word not in text, word


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("RTX 4900", "RTX 4090"),
        ("H10", "H100 SXM"),
        ("A100 80", "A100 80GB SXM"),
        ("3090 24gb", "RTX 3090"),
        ("rtx 5090 32gb", "RTX 5090"),
        ("l40", "L40S"),
    ],
)
def test_gpu_suggestions_are_the_closest_names(text: str, name: str) -> None:
    """An unknown --gpu lists the closest catalog names, best first."""
    from vram.core.errors import UnknownGpuError

    with pytest.raises(UnknownGpuError) as info:
        catalog.gpu_from_arg(text)
    assert name == info.value.suggestions[0]
