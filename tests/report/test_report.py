"""The JSON document (golden file) and the unit formatting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vram.core.inference import InferenceSettings, estimate_inference
from vram.report.document import build_document, render_json
from vram.report.units import fmt_bytes, fmt_params
from vram.resolve.reference import resolve

from ..conftest import FIXTURES

GOLDEN = Path(__file__).parent / "golden_llama_bias_int4.json"


def test_document_matches_golden() -> None:
    """The whole --json document for a fixture model equals the committed golden file.

    Regenerate deliberately with VRAM_REGEN_GOLDEN=1 after an intended change, and review the diff.
    """
    resolved = resolve(str(FIXTURES / "configs" / "llama-bias.json"))
    assert resolved.spec is not None
    est = estimate_inference(resolved.spec, InferenceSettings(dtype="int4", seq_len=512, batch=2))
    doc = json.loads(render_json(build_document(resolved, est, None, "test")))
    doc["model"]["id"] = doc["model"]["location"] = "llama-bias.json"
    if os.environ.get("VRAM_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(doc, indent=2) + "\n")
    assert json.loads(GOLDEN.read_text()) == doc


def test_golden_figures_follow_from_the_layout() -> None:
    """The golden's weight, KV and activation bytes are the ones derived by hand from llama-bias.json.

    3 layers, hidden 64, 4 heads x 16 (2 KV heads), MLP 176, vocab 1000 (tied), NF4, batch 2 x 512.
    """
    golden = json.loads(GOLDEN.read_text())["components"]
    linears = 3 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 176 * 64)  # q, k, v, o, gate, up, down
    nf4 = linears // 2 + linears // 64 * 4  # packed 4-bit codes + one fp32 absmax per 64 (bitsandbytes)
    assert nf4 == golden["weights"]["details"]["bytes_nf4"]
    assert (204_512 - linears) * 2 == golden["weights"]["details"]["bytes_bf16"]  # the rest in bf16
    assert 3 * 1024 * (2 * 2 * 16) * 2 == golden["kv_cache"]["bytes"]  # layers x tokens x K,V x heads x dim x bf16
    # held: embeddings and layer input (2 x 64 per token) and rotary cos/sin (2 x 16 per position);
    # widest step the gated MLP: residual, normed input and three 176-wide tensors.
    assert (1024 * (2 * 64 + 2 * 64 + 3 * 176) + 512 * 2 * 16) * 2 == golden["activations"]["bytes"]


@pytest.mark.parametrize(
    ("n", "units", "text"),
    [
        (12 * 2**30, "GiB", "12.00 GiB"),
        (12 * 2**30, "GB", "12.88 GB"),
        (5 * 2**20, "GiB", "5.0 MiB"),
        (5 * 10**6, "GB", "5.0 MB"),
        (-3 * 2**30, "GiB", "-3.00 GiB"),
    ],
)
def test_fmt_bytes_labels_match_divisors(n: int, units: str, text: str) -> None:
    """GiB always divides by 2^30 and GB by 10^9; small sizes drop to MiB / MB."""
    assert text == fmt_bytes(n, units)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "text"), [(6_738_415_616, "6.74 B"), (124_439_808, "124.4 M"), (671 * 10**9, "671.00 B")]
)
def test_fmt_params(n: int, text: str) -> None:
    """Parameter counts are shown in decimal units (they are counts, not bytes)."""
    assert text == fmt_params(n)
