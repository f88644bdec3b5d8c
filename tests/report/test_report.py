"""The JSON document (golden file) and the unit formatting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vram.core.errors import SettingsError
from vram.core.inference import InferenceSettings, estimate_inference, estimate_weights_only
from vram.core.limits import MAX_BATCH, MAX_SEQ_LEN
from vram.report.document import build_document, render_json
from vram.report.units import fmt_bytes, fmt_params
from vram.resolve import catalog
from vram.resolve.reference import MAX_COUNT, resolve

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


def _integers(node: object) -> list[int]:
    if isinstance(node, dict):
        return [i for v in node.values() for i in _integers(v)]
    if isinstance(node, list):
        return [i for v in node for i in _integers(v)]
    return [node] if isinstance(node, int) and not isinstance(node, bool) else []


_MODELS = [m.id for m in catalog.models()]


@given(
    model=st.sampled_from(_MODELS),
    batch=st.integers(1, MAX_BATCH),
    seq_len=st.integers(1, MAX_SEQ_LEN),
    logits=st.sampled_from(["last", "all"]),
    dtype=st.sampled_from([None, "fp32", "int4", "Q4_K_M"]),
)
@example(model="meta-llama/Llama-3.1-405B", batch=MAX_BATCH, seq_len=MAX_SEQ_LEN, logits="all", dtype="fp32")
@example(model="Qwen/Qwen2.5-0.5B", batch=1, seq_len=1, logits="last", dtype=None)
def test_every_json_integer_fits_int64(model: str, batch: int, seq_len: int, logits: str, dtype: str | None) -> None:
    """For any accepted option values, every integer in the document is below 2**63 (else a SettingsError)."""
    resolved = resolve(model)
    assert resolved.spec is not None
    settings = InferenceSettings(dtype=dtype, batch=batch, seq_len=seq_len, logits=logits)  # type: ignore[arg-type]
    est = estimate_inference(resolved.spec, settings)
    if est.total_bytes >= 2**63 or any(c.bytes >= 2**63 for c in est.components):
        with pytest.raises(SettingsError, match="64-bit"):
            build_document(resolved, est, None, "test")
        return
    doc = build_document(resolved, est, None, "test")
    assert all(-(2**63) <= i < 2**63 for i in _integers(json.loads(render_json(doc))))


@given(count=st.integers(10**5, MAX_COUNT), dtype=st.sampled_from(["fp64", "fp32", "fp16", "int4"]))
@example(count=MAX_COUNT, dtype="fp64")
def test_parameter_count_documents_fit_int64(count: int, dtype: str) -> None:
    """Every accepted bare count gives a document whose integers are below 2**63."""
    resolved = resolve(str(count))
    doc = build_document(resolved, estimate_weights_only(resolved.parameters or 0, dtype), None, "test")
    assert all(i < 2**63 for i in _integers(json.loads(render_json(doc))))
