"""The fit check: headroom against the usable memory, and the warnings for formats a card lacks.

Cards are built by hand from their public specs (NVIDIA's architecture whitepapers: Turing has no
bf16 tensor cores, Ampere no fp8; Apple's unified memory); estimates are weights-only rules of thumb.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vram.core.gpu import Gpu, check_fit
from vram.core.inference import estimate_weights_only

GIB = 1 << 30


def _gpu(**over: Any) -> Gpu:
    """A 16 GiB card with bf16 and fp8 tensor cores, 15 GiB usable."""
    base: dict[str, Any] = {
        "name": "Card",
        "vendor": "nvidia",
        "architecture": "Hopper",
        "compute_capability": "9.0",
        "memory_bytes": 16 * GIB,
        "usable_memory_bytes": 15 * GIB,
        "bf16": True,
        "fp8": True,
        "source": "test",
    }
    return Gpu(**{**base, **over})


def test_headroom_is_usable_minus_total_and_the_boundary_fits() -> None:
    """7.5 G fp16 parameters are exactly 15 GiB: they fit 15 GiB usable with 0 headroom, not one byte less."""
    est = estimate_weights_only(15 * GIB // 2, "fp16")
    fit = check_fit(est, _gpu())
    assert (True, 0, 16 * GIB, 15 * GIB, "Card", ()) == (
        fit.fits,
        fit.headroom_bytes,
        fit.memory_bytes,
        fit.usable_memory_bytes,
        fit.name,
        fit.warnings,
    )
    tight = check_fit(est, _gpu(usable_memory_bytes=15 * GIB - 1))
    assert (False, -1) == (tight.fits, tight.headroom_bytes)


def test_usable_above_nominal_is_refused() -> None:
    """A card cannot let a process allocate more than it has."""
    with pytest.raises(ValidationError, match="usable_memory_bytes exceeds memory_bytes"):
        _gpu(usable_memory_bytes=16 * GIB + 1)


def test_bf16_on_turing_warns_with_the_fp16_next_step() -> None:
    """bf16 weights on a Turing card (no bf16 tensor cores) name the card and suggest --dtype fp16."""
    fit = check_fit(estimate_weights_only(10**9, "bf16"), _gpu(name="T4", architecture="Turing", bf16=False))
    assert 1 == len(fit.warnings)
    assert "bf16 is not supported natively on T4 (Turing): use --dtype fp16" in fit.warnings[0]
    assert () == check_fit(estimate_weights_only(10**9, "fp16"), _gpu(bf16=False)).warnings
    # NF4 keeps unconverted tensors in bf16 when the checkpoint names no dtype: warned through the compute dtype.
    assert 1 == len(check_fit(estimate_weights_only(10**9, "nf4"), _gpu(bf16=False)).warnings)


def test_fp8_on_ampere_warns() -> None:
    """fp8 weights on an Ampere card (no fp8 tensor cores) say which architectures have them."""
    fit = check_fit(estimate_weights_only(10**9, "fp8"), _gpu(name="A100", architecture="Ampere", fp8=False))
    assert 1 == len(fit.warnings)
    assert fit.warnings[0].startswith("fp8 needs Ada/Hopper (NVIDIA) or CDNA3 (AMD) tensor cores; A100 (Ampere)")
    assert () == check_fit(estimate_weights_only(10**9, "fp8"), _gpu()).warnings


@pytest.mark.parametrize(("capability", "warned"), [("7.0", True), ("7.5", False)])
def test_mxfp4_dequantized_below_turing(capability: str, warned: bool) -> None:
    """Below compute capability 7.5 transformers dequantizes MXFP4 to bf16: 16 / 4.25 bits = 3.8x the experts."""
    fit = check_fit(estimate_weights_only(10**9, "mxfp4"), _gpu(compute_capability=capability))
    expected = "expert memory grows 3.8x (16 instead of 4.25 bits per weight)"
    assert warned == any(expected in w for w in fit.warnings)


def test_mxfp4_capability_rule_is_nvidia_only() -> None:
    """The compute-capability rule is NVIDIA's: an AMD card with the same number is not warned."""
    fit = check_fit(estimate_weights_only(10**9, "mxfp4"), _gpu(vendor="amd", compute_capability="7.0"))
    assert not any("MXFP4" in w for w in fit.warnings)


def test_unified_memory_names_the_wired_limit() -> None:
    """A unified-memory card states the GiB the verdict used and how to raise macOS's wired limit."""
    gpu = _gpu(
        name="M3 Max", vendor="apple", compute_capability=None, unified_memory=True, usable_memory_bytes=12 * GIB
    )
    (warning,) = check_fit(estimate_weights_only(10**9, "fp16"), gpu).warnings
    assert warning.startswith("M3 Max shares memory with the CPU: the verdict uses the 12 GiB")
    assert "sysctl iogpu.wired_limit_mb" in warning
