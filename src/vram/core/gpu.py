"""GPUs as the estimate sees them, and the fit check: does the total fit, and is the dtype native."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vram.core.inference import WeightsEstimate
from vram.core.units import GiB

DEQUANT_BITS = 16
"""Bits per weight once transformers dequantizes MXFP4 to bf16 (5.23: quantizers/quantizer_mxfp4.py below
compute capability (7, 5); integrations/mxfp4.py ``convert_moe_packed_tensors`` defaults to bfloat16)."""

PCIE_LANE_GB_S: dict[int, float] = {3: 8 * 128 / 130 / 8, 4: 16 * 128 / 130 / 8, 5: 32 * 128 / 130 / 8}
"""GB/s per lane per direction: 8 / 16 / 32 GT/s with 128b/130b encoding (PCI-SIG PCIe 3.0 / 4.0 / 5.0 base specs)."""


class Gpu(BaseModel):
    """One accelerator: its memory and the number formats its tensor cores run natively."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    name: str
    aliases: tuple[str, ...] = ()
    vendor: Literal["nvidia", "amd", "apple", "intel", "unspecified"]
    architecture: str
    compute_capability: str | None = None
    memory_bytes: int = Field(gt=0, description="nominal capacity")
    usable_memory_bytes: int = Field(gt=0, description="what a process can allocate: the CUDA device total")
    usable_basis: str = ""
    bandwidth_gb_s: float | None = None
    pcie_gen: int | None = Field(default=None, ge=1)
    pcie_lanes: int | None = Field(default=None, ge=1)
    pcie_basis: str = ""
    bf16: bool
    fp8: bool
    fp4: bool = False
    unified_memory: bool = False
    memory_basis: str = ""
    source: str
    notes: str = ""

    @property
    def pcie_gb_s(self) -> float | None:
        """Host-link bandwidth per direction in GB/s (what offloaded weights cross), None when unknown."""
        if self.pcie_gen is None or self.pcie_lanes is None or self.pcie_gen not in PCIE_LANE_GB_S:
            return None
        return PCIE_LANE_GB_S[self.pcie_gen] * self.pcie_lanes

    @model_validator(mode="after")
    def _usable_within_nominal(self) -> Gpu:
        if self.usable_memory_bytes > self.memory_bytes:
            msg = f"{self.name}: usable_memory_bytes exceeds memory_bytes"
            raise ValueError(msg)
        return self


class Fit(BaseModel):
    """The verdict for one GPU."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    memory_bytes: int
    usable_memory_bytes: int
    fits: bool
    headroom_bytes: int
    warnings: tuple[str, ...] = ()


def check_fit(estimate: WeightsEstimate, gpu: Gpu) -> Fit:
    """Whether ``estimate`` fits the memory ``gpu`` lets a process allocate, with warnings for formats
    the card does not run natively."""
    fmt, compute_dtype = estimate.format, estimate.compute_dtype
    warnings: list[str] = []
    where = f"{gpu.name} ({gpu.architecture})"
    if "bf16" in (fmt.needs, compute_dtype) and not gpu.bf16:
        warnings.append(f"bf16 is not supported natively on {where}: use --dtype fp16 (or expect emulation)")
    if fmt.needs == "fp8" and not gpu.fp8:
        warnings.append(
            f"fp8 needs Ada/Hopper (NVIDIA) or CDNA3 (AMD) tensor cores; {where} lacks them, so engines "
            "fall back to weight-only kernels or refuse"
        )
    if (
        fmt.kind == "mxfp4"
        and gpu.vendor == "nvidia"
        and gpu.compute_capability
        and float(gpu.compute_capability) < 7.5
    ):
        growth = DEQUANT_BITS / fmt.nominal_bits  # 16 / 4.25 (e2m1 + one E8M0 scale per 32): 3.8x
        warnings.append(
            f"transformers dequantizes MXFP4 to bf16 below compute capability 7.5 ({where}): "
            f"expert memory grows {growth:.1f}x ({DEQUANT_BITS} instead of {fmt.nominal_bits:g} bits per weight)"
        )
    if gpu.unified_memory:
        usable = gpu.usable_memory_bytes / GiB
        warnings.append(
            f"{gpu.name} shares memory with the CPU: the verdict uses the {usable:,.0f} GiB macOS lets the GPU wire "
            "by default (recommendedMaxWorkingSetSize); raise it with sysctl iogpu.wired_limit_mb"
        )
    headroom = gpu.usable_memory_bytes - estimate.total_bytes
    return Fit(
        name=gpu.name,
        memory_bytes=gpu.memory_bytes,
        usable_memory_bytes=gpu.usable_memory_bytes,
        fits=estimate.fits(gpu.usable_memory_bytes),
        headroom_bytes=headroom,
        warnings=tuple(warnings),
    )
