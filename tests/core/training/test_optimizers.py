"""Optimizer state bytes per tensor and step temporaries, against the rules of each library."""

from __future__ import annotations

import pytest

from vram.core.params import Tensor
from vram.core.training.optimizers import optimizer_bytes, state_bytes

BIG = Tensor("blk.ffn_up", (4096, 4096), "mlp", 0)
NORM = Tensor("blk.norm0", (4096,), "norm", 0)


def test_adamw_keeps_two_states_in_the_parameter_dtype() -> None:
    """torch AdamW: exp_avg and exp_avg_sq are zeros_like(p): 8 B/param for fp32, 4 for bf16."""
    assert state_bytes("adamw", BIG, 4) == 8 * BIG.numel
    assert state_bytes("adamw", BIG, 2) == 4 * BIG.numel


def test_eight_bit_adamw_is_two_bytes_plus_absmax_per_256() -> None:
    """bitsandbytes 8-bit: 2 uint8 states + one fp32 absmax per 256 values each = 2 + 8/256 B/param."""
    assert state_bytes("adamw-8bit", BIG, 4) / BIG.numel == pytest.approx(2 + 8 / 256)
    assert state_bytes("paged-adamw-8bit", BIG, 4) == state_bytes("adamw-8bit", BIG, 4)


def test_eight_bit_keeps_small_tensors_in_fp32() -> None:
    """Tensors under min_8bit_size = 4096 elements keep two fp32 states (8 B/param) even for bf16 params."""
    small = Tensor("n", (4095,), "norm")
    assert state_bytes("adamw-8bit", small, 2) == 8 * 4095
    assert state_bytes("adamw-8bit", NORM, 2) == 2 * 4096 + 2 * 4 * 16


def test_adafactor_factors_matrices_and_keeps_vectors_whole() -> None:
    """torch Adafactor: (m + n) states for an m x n matrix, per expert slice for 3-D; n for a vector."""
    assert state_bytes("adafactor", BIG, 4) == (4096 + 4096) * 4
    experts = Tensor("ffn_up_exps", (8, 1024, 4096), "expert", 0, per_expert=True)
    assert state_bytes("adafactor", experts, 2) == 8 * (1024 + 4096) * 2
    assert state_bytes("adafactor", NORM, 4) == 4096 * 4


@pytest.mark.parametrize(("name", "states"), [("sgd", 0), ("sgd-momentum", 1), ("lion", 1)])
def test_sgd_and_lion_state_counts(name: str, states: int) -> None:
    """SGD keeps nothing, SGD with momentum one buffer, Lion one exp_avg."""
    assert state_bytes(name, BIG, 4) == states * 4 * BIG.numel  # type: ignore[arg-type]


def test_muon_uses_momentum_for_hidden_matrices_and_adamw_elsewhere() -> None:
    """Muon: one momentum buffer for 2-D hidden weights; embeddings and norms get AdamW's two states."""
    emb = Tensor("token_embd", (32000, 4096), "embedding")
    assert state_bytes("muon", BIG, 4) == 4 * BIG.numel
    assert state_bytes("muon", emb, 4) == 8 * emb.numel
    assert state_bytes("muon", NORM, 4) == 8 * NORM.numel


def test_foreach_adds_a_copy_of_the_second_moment_at_the_step() -> None:
    """foreach AdamW: _foreach_sqrt(exp_avg_sqs) is one transient state copy; fused has none."""
    pairs = [(BIG, 4), (NORM, 4)]
    assert optimizer_bytes("adamw-foreach", pairs).step_temporary == 4 * (BIG.numel + NORM.numel)
    assert optimizer_bytes("adamw", pairs).step_temporary == 0


def test_foreach_in_backward_copies_one_parameter_at_a_time() -> None:
    """One optimizer per parameter (torchtune optimizer_in_bwd): the sqrt copy is the largest tensor's alone."""
    pairs = [(BIG, 2), (NORM, 2)]
    assert optimizer_bytes("adamw-foreach", pairs, per_parameter=True).step_temporary == 2 * BIG.numel


def test_paged_states_of_large_tensors_are_paged() -> None:
    """PagedAdamW8bit pages the uint8 states of tensors with >= 1e5 elements (bitsandbytes get_state_buffer);
    smaller tensors and the fp32 absmax stay ordinary GPU tensors."""
    got = optimizer_bytes("paged-adamw-8bit", [(BIG, 2), (NORM, 2)])
    assert got.paged == 2 * BIG.numel
    assert got.state == state_bytes("adamw-8bit", BIG, 2) + state_bytes("adamw-8bit", NORM, 2)
