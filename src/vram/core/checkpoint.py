"""What a checkpoint's files say they store: the authority for weight bytes when we have them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
"""safetensors dtypes that hold one parameter per element (packed int / fp4 codes do not)."""


class Checkpoint(BaseModel):
    """Elements and bytes per stored dtype, summed over a checkpoint's weight files."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    source: Literal["safetensors", "gguf"]
    files: int | None = Field(default=None, ge=1, description="number of files, when read locally")
    parameters_by_dtype: dict[str, int]
    bytes_by_dtype: dict[str, int]
    tensor_bytes: tuple[int, ...] = Field(
        default=(), description="bytes of each stored tensor (one allocation each); empty when only totals are known"
    )

    @property
    def total_bytes(self) -> int:
        """Bytes of all stored tensors."""
        return sum(self.bytes_by_dtype.values())

    @property
    def elements(self) -> int:
        """Stored elements; equals the parameter count only when every dtype is a float type."""
        return sum(self.parameters_by_dtype.values())

    @property
    def unpacked(self) -> bool:
        """True when elements are parameters: GGUF shapes count weights; safetensors only for float dtypes."""
        return self.source == "gguf" or set(self.parameters_by_dtype) <= FLOAT_DTYPES
