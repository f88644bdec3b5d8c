"""Dev-only: the tensors quantization libraries create for one Linear, in bytes (the layout oracle).

Not a runtime or test dependency. Run it in a separate environment with the libraries (the
figures in tests/core/data/quant_layouts.json came from torch 2.13.0+cpu, bitsandbytes 0.50.2,
auto-gptq 0.7.1 and autoawq 0.2.9, the last two installed with ``--no-deps``):

    python scripts/quant_layouts.py > tests/core/data/quant_layouts.json

- bitsandbytes: ``Int8Params`` and ``Params4bit`` moved to the CPU quantize a real fp16 weight
  (``Linear8bitLt`` / ``Linear4bit``); every tensor they hold is recorded, including the 4-bit
  ``QuantState`` (absmax, code table, nested statistics and offset).
- GPTQ: auto-gptq's ``QuantLinear`` (``qlinear_cuda_old``, all bit widths) registers its packed
  buffers in ``__init__``; AWQ: autoawq's ``WQLinear_GEMM`` likewise. Both modules are loaded from
  their files without running their packages' ``__init__`` (which import CUDA kernels).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
import types
from pathlib import Path
from typing import Any

import torch

SHAPES = [(4096, 4096), (1024, 4096), (4096, 11008), (999, 333)]  # (out_features, in_features)
PACKED_SHAPES = SHAPES[:3]  # GPTQ/AWQ need in % group == 0 and out % 32 == 0


def _module(dist: str, dotted: str) -> Any:
    """Import ``dotted`` from its installed file, with empty parent packages (no package __init__)."""
    parts = dotted.split(".")
    root = Path(str(importlib.metadata.distribution(dist).locate_file("")))
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(root.joinpath(*parts[:i]))]
            sys.modules[name] = pkg
    return importlib.import_module(dotted)


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _bnb(out: int, inp: int) -> list[dict[str, Any]]:
    import bitsandbytes as bnb

    weight = torch.randn(out, inp, dtype=torch.float16)
    cases = []
    layer8 = bnb.nn.Linear8bitLt(inp, out, bias=False, has_fp16_weights=False)
    layer8.weight = bnb.nn.Int8Params(weight.clone(), requires_grad=False, has_fp16_weights=False)
    layer8 = layer8.to("cpu")
    tensors8 = {"CB": _nbytes(layer8.weight.data), "SCB": _nbytes(layer8.weight.SCB)}
    cases.append({"format": "bnb-int8", "out": out, "in": inp, "tensors": tensors8})
    for quant_type in ("nf4", "fp4"):
        for nested in (False, True):
            layer4 = bnb.nn.Linear4bit(inp, out, bias=False, quant_type=quant_type, compress_statistics=nested)
            layer4.weight = bnb.nn.Params4bit(
                weight.clone(), requires_grad=False, quant_type=quant_type, compress_statistics=nested, blocksize=64
            )
            layer4 = layer4.to("cpu")
            qs = layer4.weight.quant_state
            tensors4 = {"weight": _nbytes(layer4.weight.data), "absmax": _nbytes(qs.absmax), "code": _nbytes(qs.code)}
            if nested:
                tensors4["nested_absmax"] = _nbytes(qs.state2.absmax)
                tensors4["nested_code"] = _nbytes(qs.state2.code)
                tensors4["offset"] = _nbytes(qs.offset)
            name = f"{quant_type}-dq" if nested else quant_type
            cases.append({"format": name, "out": out, "in": inp, "tensors": tensors4})
    return cases


def _packed(out: int, inp: int) -> list[dict[str, Any]]:
    gptq = _module("auto-gptq", "auto_gptq.nn_modules.qlinear.qlinear_cuda_old").QuantLinear
    awq = _module("autoawq", "awq.modules.linear.gemm").WQLinear_GEMM
    cases = []
    for bits in (2, 3, 4, 8):
        for group in (32, 128, -1):
            layer = gptq(bits, group, inp, out, False)
            cases.append({"format": f"gptq-int{bits}-g{group}", "out": out, "in": inp, "tensors": _buffers(layer)})
    for group in (64, 128):
        layer = awq(4, group, inp, out, False, "cpu")
        cases.append({"format": f"awq-int4-g{group}", "out": out, "in": inp, "tensors": _buffers(layer)})
    return cases


def _buffers(layer: torch.nn.Module) -> dict[str, int]:
    return {name: _nbytes(b) for name, b in layer.named_buffers() if name != "wf"}


def main() -> None:
    import bitsandbytes

    cases = [c for out, inp in PACKED_SHAPES for c in _packed(out, inp)]
    cases += [c for out, inp in SHAPES for c in _bnb(out, inp)]
    versions = {"torch": torch.__version__, "bitsandbytes": bitsandbytes.__version__}
    for dist in ("auto-gptq", "autoawq"):
        versions[dist] = importlib.metadata.version(dist)
    json.dump({"versions": versions, "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
