"""The exact solvers: maxima that fit with one more not fitting, and the fewest GPUs, on any cost function."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vram.core.fit import MAX_BATCH, MAX_SEQ_LEN, total_at
from vram.core.gpu import Gpu
from vram.core.inference import InferenceSettings, estimate_inference
from vram.core.placement import fewest_gpus, per_gpu_bytes
from vram.core.solve import fewest_fitting, max_fitting
from vram.core.spec import ModelSpec
from vram.core.units import GiB
from vram.resolve.catalog import gpus, models
from vram.resolve.reference import resolve

from ..strategies import specs

CATALOG = [m.id for m in models() if "405B" not in m.id and "480B" not in m.id]
CARDS = [g for g in gpus() if g.usable_memory_bytes <= 200 * GiB]


def test_linear_cost_is_solved_in_closed_form() -> None:
    """A cost linear in n is answered by the first secant guess: (budget - a) // b, by hand."""
    calls: list[int] = []

    def cost(n: int) -> int:
        calls.append(n)
        return 1_000 + 7 * n

    got = max_fitting(cost, 100_000, 1, 1 << 24)
    assert got.value == (100_000 - 1_000) // 7 == 14_142
    assert not got.capped
    assert got.evaluations <= 4


def test_nothing_fits_and_everything_fits() -> None:
    """The bottom of the range not fitting gives None; the top fitting gives it, flagged as capped."""
    assert max_fitting(lambda n: 10 + n, 5, 1, 100).value is None
    top = max_fitting(lambda n: n, 1_000, 1, 100)
    assert (top.value, top.capped) == (100, True)


@given(
    st.integers(0, 10**6),
    st.integers(1, 5_000),
    st.integers(1, 512),
    st.integers(0, 10**7),
    st.integers(0, 10**8),
)
def test_staircase_and_max_costs_are_exact(base: int, slope: int, step: int, kink: int, budget: int) -> None:
    """For a monotone cost with a max() and whole-page rounding, the maximum fits and one more does not."""

    def cost(n: int) -> int:
        pages = -(-n * slope // (step * 64)) * step * 64  # rounded up to whole pages, as an allocator does
        return base + max(pages, 3 * n * slope - kink)

    got = max_fitting(cost, budget, 1, 1 << 20)
    if got.value is None:
        assert cost(1) > budget
    elif got.capped:
        assert got.value == 1 << 20
        assert cost(got.value) <= budget
    else:
        assert cost(got.value) <= budget < cost(got.value + 1)
        assert got.evaluations <= 3 * 21 + 2  # the bracket halves at least every two steps


def test_fewest_fitting_with_a_simple_per_gpu_model() -> None:
    """Weights split n ways plus a 1 GiB context on each card: 70 GiB on 24 GiB cards needs 4 (by hand:
    70/3 + 1 = 24.3 > 24, 70/4 + 1 = 18.5); an invalid layout (3) is skipped, not taken."""

    def need(layout: object) -> int | None:
        assert isinstance(layout, int)
        return None if layout == 3 else 70 * GiB // layout + GiB

    got = fewest_fitting(((n, n) for n in range(1, 9)), need, 24 * GiB)
    assert got.count == 4
    assert got.per_gpu_bytes == 70 * GiB // 4 + GiB
    none = fewest_fitting(((n, n) for n in range(1, 3)), need, 24 * GiB)
    assert none.count is None


@given(specs(), st.integers(1, 8), st.integers(1, 9000), st.sampled_from([None, "fp8", "q8_0"]))
def test_token_cost_matches_the_estimate(spec: ModelSpec, batch: int, seq_len: int, kv: str | None) -> None:
    """The fast (batch, seq_len) cost equals estimate_inference's total at other settings."""
    est = estimate_inference(spec, InferenceSettings(batch=1, seq_len=512, kv_dtype=kv))
    again = estimate_inference(spec, InferenceSettings(batch=batch, seq_len=seq_len, kv_dtype=kv))
    assert total_at(spec, est)(batch, seq_len) == again.total_bytes


def _spec(model: str) -> ModelSpec:
    spec = resolve(model, offline=True).spec
    assert spec is not None
    return spec


@given(
    st.sampled_from(CATALOG),
    st.sampled_from(["int8", "nf4", "Q4_K_M", "bf16"]),
    st.integers(1, 4),
    st.integers(256, 16384),
    st.sampled_from(CARDS),
    st.floats(1.0, 4.0),
)
def test_catalog_maxima_are_exact_and_monotone(
    model: str, dtype: str, batch: int, seq_len: int, card: Gpu, grow: float
) -> None:
    """On random catalog models and cards, max context and max batch fit, one more does not (checked with
    estimate_inference itself), and a card with more memory never gets a smaller maximum."""
    spec = _spec(model)

    def at(b: int, n: int) -> int:
        return estimate_inference(spec, InferenceSettings(dtype=dtype, batch=b, seq_len=n)).total_bytes

    est = estimate_inference(spec, InferenceSettings(dtype=dtype, batch=batch, seq_len=seq_len))
    cost = total_at(spec, est)
    limit = spec.max_position_embeddings or MAX_SEQ_LEN
    budget = card.usable_memory_bytes
    ctx = max_fitting(lambda n: cost(batch, n), budget, 1, limit)
    bat = max_fitting(lambda n: cost(n, seq_len), budget, 1, MAX_BATCH)
    if ctx.value is not None and not ctx.capped:
        assert at(batch, ctx.value) <= budget < at(batch, ctx.value + 1)
    if bat.value is not None and not bat.capped:
        assert at(bat.value, seq_len) <= budget < at(bat.value + 1, seq_len)
    bigger = int(budget * grow)
    ctx2 = max_fitting(lambda n: cost(batch, n), bigger, 1, limit)
    bat2 = max_fitting(lambda n: cost(n, seq_len), bigger, 1, MAX_BATCH)
    assert (ctx2.value or 0) >= (ctx.value or 0)
    assert (bat2.value or 0) >= (bat.value or 0)


@given(st.sampled_from(CATALOG), st.sampled_from(["bf16", "int8"]), st.sampled_from(CARDS))
def test_min_gpus_is_minimal(model: str, dtype: str, card: Gpu) -> None:
    """The fewest GPUs found fit, and no smaller count does (layer split of the same estimate)."""
    spec = _spec(model)
    est = estimate_inference(spec, InferenceSettings(dtype=dtype))
    budget = card.usable_memory_bytes
    found = fewest_gpus(spec, est, budget)
    if found is None:
        return
    assert per_gpu_bytes(spec, est, found.count) <= budget
    assert all(per_gpu_bytes(spec, est, n) > budget for n in range(1, found.count))
