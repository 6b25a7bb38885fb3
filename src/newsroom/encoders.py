"""The two sentence encoders' forward passes (BERT for all-MiniLM-L6-v2, MPNet for all-mpnet-base-v2) in plain torch.

``transformers``' model classes import ``torch.distributed.tensor``, ``torch._dynamo`` and SymPy on the way in (about
110 MB of memory and 1.5 s of CPU in every process that loads an encoder); these modules need only ``torch`` and read
the same safetensors weights under the same names. An encoder maps token ids and their attention mask to its hidden
states (``hidden_states[0]`` is the embedding layer's output, ``hidden_states[k]`` layer k's), as ``transformers``
does with ``output_hidden_states=True``; in float32 the outputs agree with ``transformers``' to float rounding
(``tests/test_encoders.py``). Tokenising is ``tokenizers``' own (``Tokens``): no ``transformers`` tokenizer either.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Shape:
    vocab: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    positions: int
    eps: float
    type_vocab: int = 0  # BERT's token types; MPNet has none
    buckets: int = 0  # MPNet's relative-position buckets; BERT has none

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Shape:
        return cls(
            vocab=config["vocab_size"],
            hidden=config["hidden_size"],
            layers=config["num_hidden_layers"],
            heads=config["num_attention_heads"],
            intermediate=config["intermediate_size"],
            positions=config["max_position_embeddings"],
            eps=config["layer_norm_eps"],
            type_vocab=config.get("type_vocab_size", 0) if config["model_type"] == "bert" else 0,
            buckets=config.get("relative_attention_num_buckets", 0) if config["model_type"] == "mpnet" else 0,
        )


def _meta(*shape: int) -> nn.Parameter:
    """A placeholder of the right shape that holds no memory: ``build`` puts the loaded tensor in its place."""
    return nn.Parameter(torch.empty(*shape, device="meta"), requires_grad=False)


# Leaf layers without ``torch.nn``'s random initialisation: on the meta device that goes through ``torch._refs``,
# which imports ``torch._dynamo`` and SymPy (about 100 MB), and on the CPU it would fill memory about to be replaced.
class _Linear(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight, self.bias = _meta(n_out, n_in), _meta(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _Embedding(nn.Module):
    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.weight = _meta(n, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of ``ids``, in float32 (a table kept in bfloat16 to halve its memory is widened per lookup)."""
        return F.embedding(ids, self.weight).float()


class _LayerNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = _meta(dim), _meta(dim), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class _Attention(nn.Module):
    """Multi-head self-attention; ``names`` are the query, key, value (and, for MPNet, output) layers' names."""

    def __init__(self, s: Shape, names: tuple[str, ...]) -> None:
        super().__init__()
        self.heads = s.heads
        self._names = names
        for name in names:
            setattr(self, name, _Linear(s.hidden, s.hidden))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        split = (b, n, self.heads, d // self.heads)
        q, k, v = (getattr(self, name)(x).view(split).transpose(1, 2) for name in self._names[:3])
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads) + bias
        context = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, n, d)
        return getattr(self, self._names[3])(context) if len(self._names) > 3 else context


def _sub(**children: nn.Module) -> nn.Module:
    module = nn.Module()
    for name, child in children.items():
        setattr(module, name, child)
    return module


class _BertLayer(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.attention = _sub(
            self=_Attention(s, ("query", "key", "value")),
            output=_sub(dense=_Linear(s.hidden, s.hidden), LayerNorm=_LayerNorm(s.hidden, eps=s.eps)),
        )
        self.intermediate = _sub(dense=_Linear(s.hidden, s.intermediate))
        self.output = _sub(dense=_Linear(s.intermediate, s.hidden), LayerNorm=_LayerNorm(s.hidden, eps=s.eps))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        out = self.attention.output
        x = out.LayerNorm(out.dense(self.attention.self(x, bias)) + x)
        return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(x))) + x)


class _MPNetLayer(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.attention = _sub(attn=_Attention(s, ("q", "k", "v", "o")), LayerNorm=_LayerNorm(s.hidden, eps=s.eps))
        self.intermediate = _sub(dense=_Linear(s.hidden, s.intermediate))
        self.output = _sub(dense=_Linear(s.intermediate, s.hidden), LayerNorm=_LayerNorm(s.hidden, eps=s.eps))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention.LayerNorm(self.attention.attn(x, bias) + x)
        return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(x))) + x)


def _mask_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, 1, 1, tokens): 0 over real tokens, the dtype's most negative number over padding."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class Encoder(nn.Module):
    """BERT or MPNet, as ``transformers`` builds them for a sentence encoder (no pooler, no head), in eval mode."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        s = self.shape = Shape.from_config(config)
        self.mpnet = config["model_type"] == "mpnet"
        self.pad_id = int(config.get("pad_token_id", 1 if self.mpnet else 0))
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = _Embedding(s.vocab, s.hidden)
        self.embeddings.position_embeddings = _Embedding(s.positions, s.hidden)
        if s.type_vocab:
            self.embeddings.token_type_embeddings = _Embedding(s.type_vocab, s.hidden)
        self.embeddings.LayerNorm = _LayerNorm(s.hidden, eps=s.eps)
        self.encoder = nn.Module()
        layer = _MPNetLayer if self.mpnet else _BertLayer
        self.encoder.layer = nn.ModuleList([layer(s) for _ in range(s.layers)])
        if self.mpnet:
            self.encoder.relative_attention_bias = _Embedding(s.buckets, s.heads)
        self.eval()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, keep: Collection[int] | None = None
    ) -> list[torch.Tensor | None]:
        """The hidden states: the embedding layer's output, then each layer's. With ``keep``, only those layers'
        (the others are None): a layer's output is then freed as soon as the next one is computed, which for mpnet's
        three of thirteen saves about 0.1 GB a batch of 64 headlines."""
        e = self.embeddings
        n = input_ids.shape[1]
        if self.mpnet:  # positions count real tokens from pad_id + 1 (fairseq's make_positions)
            real = input_ids.ne(self.pad_id).int()
            positions = (torch.cumsum(real, dim=1) * real).long() + self.pad_id
        else:
            positions = torch.arange(n).unsqueeze(0)
        x = e.word_embeddings(input_ids) + e.position_embeddings(positions)
        if self.shape.type_vocab:
            x = x + e.token_type_embeddings(torch.zeros_like(input_ids))
        x = e.LayerNorm(x)
        bias = _mask_bias(attention_mask, x.dtype)
        if self.mpnet:
            bias = bias + self._position_bias(n)
        out: list[torch.Tensor | None] = [x if keep is None or 0 in keep else None]
        for k, layer in enumerate(self.encoder.layer, start=1):
            x = layer(x, bias)
            out.append(x if keep is None or k in keep else None)
        return out

    def _position_bias(self, n: int) -> torch.Tensor:
        """MPNet's relative-position bias, (1, heads, n, n): bidirectional buckets, exact up to 8, log-spaced to 128."""
        pos = torch.arange(n)
        relative = pos[None, :] - pos[:, None]
        buckets = self.shape.buckets // 2
        neg = -relative
        ret = (neg < 0).long() * buckets
        dist = neg.abs()
        exact = buckets // 2
        large = exact + (torch.log(dist.float() / exact) / math.log(128 / exact) * (buckets - exact)).long()
        ret = ret + torch.where(dist < exact, dist, large.clamp(max=buckets - 1))
        return self.encoder.relative_attention_bias(ret).permute(2, 0, 1).unsqueeze(0)


def build(config: dict[str, Any], state: dict[str, torch.Tensor]) -> Encoder:
    """An ``Encoder`` holding ``state`` (safetensors names; the pooler, if present, is dropped) without copying it:
    the tensors become the parameters (``assign``), so a matrix kept in bfloat16 stays in bfloat16."""
    model = Encoder(config)
    state = {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}
    result = model.load_state_dict(state, strict=False, assign=True)
    if result.missing_keys:
        raise ValueError(f"weights missing: {result.missing_keys[:3]}")
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


class Tokens:
    """A ``tokenizers.Tokenizer`` that pads a batch to its longest text and cuts texts at ``max_length``."""

    def __init__(self, tokenizer: Any, pad_token: str, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id(pad_token)
        self.pad_token = pad_token
        self.max_length = max_length

    def __call__(self, texts: Sequence[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(input ids, attention mask), each (batch, longest) int64."""
        tok = self.tokenizer
        tok.enable_truncation(max_length or self.max_length)
        tok.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token)
        enc = tok.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        return ids, mask

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, cut at ``max_length``, unpadded: a caller that sorts texts by their length in
        tokens batches them with ``pad`` (no text is tokenised twice)."""
        tok = self.tokenizer
        tok.enable_truncation(self.max_length)
        tok.no_padding()
        return [e.ids for e in tok.encode_batch(list(texts))]

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input ids, attention mask) of token-id rows, padded to the longest: what ``__call__`` returns for
        their texts."""
        n = max(len(r) for r in rows)
        ids = torch.full((len(rows), n), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        return ids, mask
