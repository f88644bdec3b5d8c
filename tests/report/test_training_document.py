"""The train-v1 document and table, built from TrainingEstimate objects made here (figures by hand)."""

from __future__ import annotations

import json

import pytest

from vram.core.dtypes import get_format
from vram.core.errors import SettingsError
from vram.core.gpu import Fit
from vram.core.result import Component
from vram.core.training.estimate import COMPONENTS, TrainingEstimate
from vram.core.training.settings import TrainingSettings
from vram.report.document import render_json
from vram.report.table import training_table
from vram.report.training import ProjectDefaultsDoc, build_training_document, json_schema
from vram.resolve.reference import Resolved, resolve

from ..conftest import ROOT

# ZeRO paper (Rajbhandari et al. 2019, Figure 1): 7.5B parameters, mixed-precision Adam, 64 GPUs,
# stage 3: (2 + 2 + 12) x 7.5e9 / 64 = 1.875e9 bytes of model states per GPU.
PARAMS = 7_500_000_000
ZERO3 = {"weights": 2 * PARAMS // 64, "master_weights": 4 * PARAMS // 64, "gradients": 2 * PARAMS // 64}
ZERO3["optimizer"] = 8 * PARAMS // 64


def _estimate(
    components: dict[str, int], settings: TrainingSettings, *, trainable: int = PARAMS, cpu: int = 0, only: bool = False
) -> TrainingEstimate:
    return TrainingEstimate(
        components=tuple(Component(name=n, bytes=components.get(n, 0), note=f"{n} note") for n in COMPONENTS),
        parameters=PARAMS,
        format=get_format("bf16"),
        compute_dtype="bf16",
        settings=settings,
        trainable_parameters=trainable,
        peak_phase="backward",
        cpu_bytes=cpu,
        states_only=only,
    )


def _count() -> Resolved:
    resolved = resolve("7.5b")
    assert resolved.spec is None
    return resolved


def test_document_keys_and_component_order() -> None:
    """command train, the six components in order with bytes/note/details, total = their sum (1.875e9, paper)."""
    settings = TrainingSettings(precision="bf16-mixed", seq_len=2048, gpus=64, zero=3)
    doc = json.loads(render_json(build_training_document(_count(), _estimate(ZERO3, settings, only=True), None, "t")))
    assert ("train", 1) == (doc["command"], doc["schema_version"])
    assert list(COMPONENTS) == list(doc["components"])
    assert all({"bytes", "note", "details"} == set(c) for c in doc["components"].values())
    assert 1_875_000_000 == doc["total_bytes"] == sum(c["bytes"] for c in doc["components"].values())
    assert "states_only" == doc["scope"]
    assert ("backward", PARAMS, 0) == (doc["peak_phase"], doc["trainable_parameters"], doc["cpu_bytes"])
    assert {"id", "source", "parameters", "active_parameters", "exact"} <= set(doc["model"])
    assert doc["gpu"] is None
    assert doc["project_defaults"] is None


def test_settings_report_the_effective_batch() -> None:
    """effective_batch = micro-batch x grad-accum x data-parallel ranks: 4 x 8 x (16 / (2 x 2)) = 128."""
    settings = TrainingSettings(precision="bf16", seq_len=4096, batch=4, grad_accum=8, gpus=16, tp=2, pp=2)
    doc = build_training_document(_count(), _estimate({"weights": 1}, settings), None, "t")
    assert (128, 4) == (doc.settings.effective_batch, doc.settings.data_parallel)
    assert (4096, "bf16") == (doc.settings.seq_len, doc.settings.precision)


def test_lora_settings_are_null_without_lora() -> None:
    """Full fine-tuning reports lora_rank and lora_targets as null; --qlora alone reports PEFT's default rank 8."""
    full = build_training_document(_count(), _estimate({}, TrainingSettings(precision="fp32", seq_len=8)), None, "t")
    assert (None, None) == (full.settings.lora_rank, full.settings.lora_targets)
    qlora = TrainingSettings(precision="bf16-mixed", seq_len=8, qlora=True, lora_targets=("q", "v"))
    doc = build_training_document(_count(), _estimate({}, qlora, trainable=4_194_304), None, "t")
    assert (8, ["q", "v"], True) == (doc.settings.lora_rank, doc.settings.lora_targets, doc.settings.qlora)


def test_int64_overflow_is_refused() -> None:
    """A component beyond int64 is a SettingsError naming it, never a document jq cannot read."""
    settings = TrainingSettings(precision="fp32", seq_len=8)
    est = _estimate({"activations": 1 << 63}, settings)
    with pytest.raises(SettingsError, match=r"components\.activations\.bytes"):
        build_training_document(_count(), est, None, "t")


def test_ignored_options_and_notes_become_warnings() -> None:
    """Options a bare count cannot use are named in one warning, after the project file's notes."""
    settings = TrainingSettings(precision="fp32", seq_len=8)
    doc = build_training_document(
        _count(), _estimate({}, settings, only=True), None, "t", ignored=["--batch", "--seq-len"], notes=["a note"]
    )
    assert "a note" == doc.warnings[0]
    assert doc.warnings[1].startswith("--batch, --seq-len ignored: a bare parameter count")


def _text(parts: list[object]) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, no_color=True)
    for p in parts:
        console.print(p)
    return console.export_text()


def test_table_shows_trainable_layout_phase_and_cpu() -> None:
    """The table names trainable vs total parameters, effective batch, the per-GPU layout, phase and CPU RAM."""
    settings = TrainingSettings(
        precision="bf16-mixed", seq_len=2048, batch=2, grad_accum=4, gpus=8, zero=3, offload="optimizer"
    )
    est = _estimate(ZERO3, settings, cpu=15 * 2**30)
    defaults = ProjectDefaultsDoc(file="vram.toml", keys=["model", "optimizer"])
    doc = build_training_document(_count(), est, None, "t", defaults=defaults)
    out = _text(list(training_table(doc, "GiB")))
    for text in (
        "trainable 7.50 B of 7.50 B (100.00%)",
        "effective batch 64 (2 x grad-accum 4 x 8 data-parallel)",
        "8 GPUs, figures per GPU: data parallel 8, ZeRO-3",
        "peak in backward",
        "master weights",
        "CPU RAM for offloaded states: 15.00 GiB",
        "defaults from vram.toml: model, optimizer",
        "total",
    ):
        assert text in out


def test_table_verdict_is_per_gpu() -> None:
    """With --gpus > 1 the verdict says it holds for each GPU; decimal units label GB."""
    settings = TrainingSettings(precision="bf16-mixed", seq_len=2048, gpus=4, fsdp="full")
    fit = Fit(
        name="H100 SXM", memory_bytes=80 * 10**9, usable_memory_bytes=80 * 10**9, fits=False, headroom_bytes=-(10**9)
    )
    doc = build_training_document(_count(), _estimate(ZERO3, settings), fit, "t")
    out = _text(list(training_table(doc, "GB")))
    assert "H100 SXM (80.00 GB): does not fit, short by 1.00 GB (each of 4 GPUs)" in out
    assert "FSDP full" in out
    assert "GiB" not in out


def test_table_names_all_linear() -> None:
    """LoRA on all seven projections reads 'all-linear' (PEFT's name), a subset lists its targets."""
    every = TrainingSettings(precision="bf16-mixed", seq_len=8, lora_rank=16)
    out = _text(list(training_table(build_training_document(_count(), _estimate({}, every), None, "t"), "GiB")))
    assert "LoRA r=16 on all-linear" in out
    some = TrainingSettings(precision="bf16-mixed", seq_len=8, qlora=True, lora_targets=("q", "v"))
    out = _text(list(training_table(build_training_document(_count(), _estimate({}, some), None, "t"), "GiB")))
    assert "QLoRA r=8 on q,v" in out


@pytest.mark.rendered
def test_schema_file_is_current() -> None:
    """docs/schema/train-v1.json is the schema of the document the code emits (python scripts/schemas.py)."""
    assert json_schema() == json.loads((ROOT / "docs" / "schema" / "train-v1.json").read_text())
