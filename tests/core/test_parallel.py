"""TP/PP splits: per-GPU tensors and KV heads as vLLM lays them out, checked by hand."""

from __future__ import annotations

import pytest

from vram.core.errors import SettingsError
from vram.core.parallel import check_split, kv_heads_per_rank, padded_vocab, pp_layers, stage_tensors
from vram.core.params import tensors
from vram.core.spec import ModelSpec
from vram.resolve import resolve

LLAMA_8B = "meta-llama/Llama-3.1-8B"


def _spec(name: str) -> ModelSpec:
    spec = resolve(name, offline=True).spec
    assert spec is not None
    return spec


def _params(name: str, tp: int, pp: int, stage: int) -> int:
    spec = _spec(name)
    return sum(t.numel for t in stage_tensors(spec, tensors(spec), tp, pp, stage))


def test_tp2_llama_8b_by_hand() -> None:
    """TP=2 on Llama-3.1-8B: 4,015,263,744 params per GPU, worked out by hand from the config.

    Vocab 128,256 (a multiple of 64) / 2 = 64,128 rows of 4,096 for the embedding and the head;
    per layer q 4,096x2,048 + k, v 512x4,096 + o 4,096x2,048 + gate, up 7,168x4,096 + down
    4,096x7,168 + two norms of 4,096 (whole) = 109,060,096; 32 layers; the final norm 4,096.
    """
    expected = 2 * 64_128 * 4096 + 32 * 109_060_096 + 4096
    assert _params(LLAMA_8B, 2, 1, 0) == expected == 4_015_263_744


def test_pp2_llama_8b_by_hand() -> None:
    """PP=2 on Llama-3.1-8B: 16 layers each; the first stage adds the embedding, the last the norm and head."""
    layer = 4096 * 4096 * 2 + 1024 * 4096 * 2 + 3 * 14_336 * 4096 + 2 * 4096  # 218,112,000
    embedding = 128_256 * 4096
    assert _params(LLAMA_8B, 1, 2, 0) == embedding + 16 * layer
    assert _params(LLAMA_8B, 1, 2, 1) == 16 * layer + 4096 + embedding


def test_pp_layers_follow_get_pp_indices() -> None:
    """30 layers over 4 stages: 7, 8, 8, 7 (the remainder goes to the stages before the last, vLLM get_pp_indices)."""
    assert [len(r) for r in pp_layers(30, 4)] == [7, 8, 8, 7]
    assert [len(r) for r in pp_layers(32, 2)] == [16, 16]
    assert pp_layers(32, 2)[1] == range(16, 32)


def test_tied_embedding_sits_on_both_ends() -> None:
    """A tied embedding is built on the first and the last stage (vLLM builds embed_tokens for the tied head)."""
    spec = _spec("Qwen/Qwen2.5-0.5B")
    assert spec.tie_word_embeddings
    names_last = {t.name for t in stage_tensors(spec, tensors(spec), 1, 2, 1)}
    names_first = {t.name for t in stage_tensors(spec, tensors(spec), 1, 2, 0)}
    assert "token_embd" in names_first
    assert "token_embd" in names_last


def test_kv_heads_replicate_beyond_their_count() -> None:
    """8 KV heads: 4 per rank at TP=2, 1 at TP=8 and still 1 at TP=16 (replicated, not split)."""
    spec = _spec(LLAMA_8B)
    assert [kv_heads_per_rank(spec, tp) for tp in (2, 8, 16)] == [4, 1, 1]


def test_vocab_pads_to_64_then_splits() -> None:
    """Qwen2.5's 151,936 is a multiple of 64: 75,968 rows at TP=2; 50,257 pads to 50,304: 12,576 at TP=4."""
    assert padded_vocab(151_936, 2) == 75_968
    assert padded_vocab(50_257, 4) == 12_576


@pytest.mark.parametrize(
    ("tp", "pp", "words"),
    [(3, 1, "does not divide the model's 32 attention heads"), (1, 33, "exceeds the model's 32 layers")],
)
def test_bad_splits_are_settings_errors(tp: int, pp: int, words: str) -> None:
    """--tp 3 with 32 heads and --pp above the layer count are refused with a message saying why."""
    with pytest.raises(SettingsError, match=words):
        check_split(_spec(LLAMA_8B), tp, pp)


def test_kv_heads_must_split_evenly() -> None:
    """Qwen2.5-14B (40 heads, 8 KV heads) at TP=20 is refused: 20 neither divides 8 nor is a multiple of it."""
    with pytest.raises(SettingsError, match="KV heads"):
        check_split(_spec("Qwen/Qwen2.5-14B"), 20, 1)
