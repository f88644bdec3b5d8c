"""LoRA adapter tensors, exactly as PEFT creates them for the chosen targets.

PEFT's ``LoraLayer.update_layer`` (peft src/peft/tuners/lora/layer.py) adds ``lora_A`` as
``nn.Linear(in_features, r)`` and ``lora_B`` as ``nn.Linear(r, out_features)``, both bias-free, so a
target Linear gains r x (in + out) parameters. Fused MoE experts (transformers 5 stores them as 3-D
parameters, not Linears) are reached through ``LoraConfig.target_parameters``, whose ``ParamWrapper``
gives ``lora_A`` r x num_experts rows and ``lora_B`` r x num_experts columns: r x (in + out) per
expert. Adapters are named ``blk.{layer}.{target}.lora_a`` (r, in) and ``.lora_b`` (out, r), with a
leading experts dimension for expert targets.
"""

from __future__ import annotations

from vram.core.errors import SettingsError
from vram.core.params import Tensor, tensors
from vram.core.spec import ModelSpec
from vram.core.training.settings import LORA_TARGETS, LoraTarget, TrainingSettings

_TARGETS_OF: dict[str, tuple[LoraTarget, ...]] = {
    "attn_q": ("q",),
    "attn_q_a": ("q",),
    "attn_q_b": ("q",),
    "attn_k": ("k",),
    "attn_v": ("v",),
    "attn_kv_a_mqa": ("k", "v"),
    "attn_kv_b": ("k", "v"),
    "attn_qkv": ("q", "k", "v"),
    "attn_output": ("o",),
    "ffn_gate": ("gate",),
    "ffn_up": ("up",),
    "ffn_down": ("down",),
}
"""Which short names reach each decoder weight. A fused projection (GPT-2's c_attn, Phi-3's qkv_proj
and gate_up_proj, MLA's kv_a / kv_b) is one Linear: naming any of its parts adapts the whole module."""

_SUFFIXES = ("_shexp", "_exps")


def _base_name(name: str) -> str:
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def targets_reaching(spec: ModelSpec, t: Tensor) -> tuple[LoraTarget, ...]:
    """The short names whose adapters attach to this weight (empty for non-linear weights)."""
    if t.layer is None or t.role not in ("attention", "mlp", "expert", "shared_expert") or len(t.shape) < 2:
        return ()
    base = _base_name(t.name)
    if base == "ffn_up" and spec.mlp_gated and spec.fused_gate_up and t.role != "expert":
        return ("gate", "up")
    return _TARGETS_OF.get(base, ())


def _adapter_pair(t: Tensor, target: LoraTarget, rank: int) -> list[Tensor]:
    *lead, out, inp = t.shape
    prefix = f"blk.{t.layer}.{target}"
    expert = t.role == "expert"
    return [
        Tensor(f"{prefix}.lora_a", (*lead, rank, inp), t.role, t.layer, per_expert=expert),
        Tensor(f"{prefix}.lora_b", (*lead, out, rank), t.role, t.layer, per_expert=expert),
    ]


def adapter_tensors(spec: ModelSpec, settings: TrainingSettings, ts: list[Tensor] | None = None) -> list[Tensor]:
    """Every LoRA adapter tensor for ``settings`` (empty for full fine-tuning).

    A SettingsError when none of the targets names a module of the model (PEFT raises in that case
    too); targets the model lacks beside ones it has are skipped, as PEFT skips them. ``ts`` is
    ``tensors(spec)`` when the caller has it.
    """
    rank = settings.rank
    if rank is None:
        return []
    chosen = set(settings.lora_targets)
    out: list[Tensor] = []
    for t in tensors(spec) if ts is None else ts:
        reach = targets_reaching(spec, t)
        hit = [x for x in reach if x in chosen]
        if hit:
            out += _adapter_pair(t, hit[0], rank)
    if not out:
        names = ",".join(settings.lora_targets)
        have = ",".join(missing_targets(spec, ()))
        msg = f"--lora-targets {names} names no module of {spec.architecture}: it has {have}"
        raise SettingsError(msg)
    return out


def missing_targets(spec: ModelSpec, chosen: tuple[LoraTarget, ...]) -> tuple[LoraTarget, ...]:
    """With ``chosen`` empty: the targets the model has; otherwise the chosen ones it lacks."""
    present: set[LoraTarget] = set()
    for t in tensors(spec):
        present.update(targets_reaching(spec, t))
    if not chosen:
        return tuple(x for x in LORA_TARGETS if x in present)
    return tuple(x for x in chosen if x not in present)


def target_of(t: Tensor) -> LoraTarget:
    """The target an adapter tensor belongs to, read from its name ``blk.{i}.{target}.lora_a|b``."""
    parts = t.name.split(".")
    if len(parts) != 4 or parts[0] != "blk" or parts[3] not in ("lora_a", "lora_b") or parts[2] not in LORA_TARGETS:
        msg = f"{t.name!r} is not a LoRA adapter tensor"
        raise ValueError(msg)
    return parts[2]
