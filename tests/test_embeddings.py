"""The clustering embedder and the bfloat16 switch the encoders share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from newsroom.embeddings import BF16_ENV, MiniLMEmbedder, bf16_native, cpu_autocast

HEADLINES = [
    "Bitcoin climbs above $100,000 as spot ETF inflows accelerate",
    "BTC tops $100K on strong exchange-traded fund demand",
    "Central bank publishes consultation on retail payment rules",
]


def test_bf16_is_off_when_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BF16_ENV, "0")
    assert not bf16_native()
    with cpu_autocast():
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_autocast_follows_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BF16_ENV, raising=False)
    with cpu_autocast():
        assert torch.is_autocast_enabled("cpu") == bf16_native()
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (torch.bfloat16 if bf16_native() else torch.float32)
    assert not torch.is_autocast_enabled("cpu")  # nothing leaks out of the block


@pytest.mark.model
def test_bf16_vectors_are_the_float32_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the CPU has native bfloat16 the embedder uses it; the vectors stay float32, unit length, and within
    cosine 0.999 of the float32 model's (on a CPU without it both runs are float32)."""
    monkeypatch.setenv(BF16_ENV, "0")
    exact = MiniLMEmbedder().embed(HEADLINES)
    monkeypatch.delenv(BF16_ENV)
    fast = MiniLMEmbedder().embed(HEADLINES)
    assert fast.dtype == np.float32 and fast.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    assert (exact * fast).sum(axis=1).min() > 0.999
    assert fast[0] @ fast[1] > fast[0] @ fast[2] + 0.2  # the paraphrase is still the nearer one


@pytest.mark.model
def test_rows_come_back_in_the_order_given_whatever_their_length() -> None:
    """``_encode`` batches by length in tokens; each row is still its own text's vector."""
    texts = [*HEADLINES, "ETF", HEADLINES[0] + " as traders weigh the next rate decision and the dollar"]
    together = MiniLMEmbedder().embed(texts)
    for text, row in zip(texts, together, strict=True):
        assert float(MiniLMEmbedder().embed([text])[0] @ row) > 0.999
