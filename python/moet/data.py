"""moet's data, read the way moet reads it (src/data/): llm.c .bin token shards, the splits a
data.train / data.val value names, and BatchLoader, which cuts the same batches as moet's — the
training windows drawn with moet's Rng (xoshiro256** seeded by splitmix64) from the run seed, the
validation windows at stride T — and saves and restores the same loader state a moet checkpoint
holds, so a run moves between moet and PyTorch without changing its data order."""
import glob
import os
import struct

import numpy as np
import torch

from .errors import MoetError

SHARD_MAGIC = 20240520
HEADER_BYTES = 256 * 4
_MASK = (1 << 64) - 1
_DATA_STREAM = 0xDA7A


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & _MASK


class Rng:
    """moet's Rng (src/core/rng.cpp), bit for bit: Rng(seed, stream)."""

    def __init__(self, seed, stream=0):
        x = (seed ^ ((stream * 0xD1B54A32D192ED03 + 0x8BB84B93962EACC9) & _MASK)) & _MASK
        self.s = []
        for _ in range(4):
            x, word = _splitmix64(x)
            self.s.append(word)
        self.cached_normal_bits, self.has_cached_normal = 0, False

    def next_u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & _MASK, 7) * 9) & _MASK
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        return (self.next_u64() * n) >> 64


def read_shard(path):
    """The tokens of one llm.c shard as a numpy array (memory-mapped)."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            header = f.read(HEADER_BYTES)
    except OSError as e:
        raise MoetError(f"{path}: cannot read token shard ({e.strerror})") from None
    if len(header) < HEADER_BYTES:
        raise MoetError(f"{path}: truncated token shard: {size} bytes, shorter than the "
                        f"{HEADER_BYTES}-byte llm.c header")
    magic, version, count = struct.unpack("<iii", header[:12])
    if magic != SHARD_MAGIC:
        raise MoetError(f"{path}: not an llm.c token shard (magic {magic}, expected {SHARD_MAGIC})")
    if version not in (1, 2):
        raise MoetError(f"{path}: unsupported token shard version {version} (1 = uint16 tokens, "
                        "2 = uint32)")
    width = 2 if version == 1 else 4
    if count < 0 or HEADER_BYTES + count * width != size:
        raise MoetError(f"{path}: corrupt token shard: header says {count} tokens "
                        f"({count * width} bytes) but the file has {size - HEADER_BYTES}")
    dtype = np.dtype("<u2" if version == 1 else "<u4")
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(count,))


def write_shard(path, tokens, vocab_size):
    """Writes tokens as an llm.c shard (version 1 when vocab_size fits uint16), atomically."""
    tokens = np.asarray(tokens)
    version = 1 if vocab_size <= 65536 else 2
    header = np.zeros(256, dtype="<i4")
    header[:3] = [SHARD_MAGIC, version, len(tokens)]
    body = tokens.astype("<u2" if version == 1 else "<u4")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(header.tobytes() + body.tobytes())
    os.replace(tmp, path)


def resolve_shards(key, spec, role):
    """The shard files data.train / data.val names, sorted: a file, a glob, or a directory's .bin
    files whose names contain `role` ("train" or "val")."""
    if spec == "bundled":
        raise MoetError(f"{key}: 'bundled' is compiled into moet; export it with `moet data prepare "
                        f"--out DIR` and set data.train = DIR")
    if os.path.isdir(spec):
        paths = [os.path.join(spec, n) for n in os.listdir(spec)
                 if n.endswith(".bin") and role in n and os.path.isfile(os.path.join(spec, n))]
        if not paths:
            raise MoetError(f"{key}: no {role} shards (*{role}*.bin) in directory '{spec}'")
    elif any(ch in spec for ch in "*?["):
        paths = glob.glob(spec)
        if not paths:
            raise MoetError(f"{key}: no files match '{spec}'")
    else:
        if not os.path.exists(spec):
            raise MoetError(f"{key}: '{spec}' does not exist")
        paths = [spec]
    return sorted(paths)


def open_splits(data):
    """(train segments, val segments) for moet's data.* settings (a dict with train and val)."""
    train_spec, val_spec = data.get("train", "bundled"), data.get("val", "bundled")
    train = [read_shard(p) for p in resolve_shards("data.train", train_spec, "train")]
    if val_spec == "bundled":
        if not os.path.isdir(train_spec):
            raise MoetError(f"data.val: 'bundled' goes with bundled training data; with "
                            f"data.train = '{train_spec}' name the validation shards")
        val_spec = train_spec
    val = [read_shard(p) for p in resolve_shards("data.val", val_spec, "val")]
    return train, val


class BatchLoader:
    """moet's BatchLoader over a list of segments (token arrays): next() -> (inputs, targets), each
    a [B, T] int64 tensor."""

    def __init__(self, segments, validation, B, T, seed):
        if B < 1 or T < 1:
            raise MoetError(f"batch size B = {B} and context T = {T} must both be positive")
        self.segments, self.validation, self.B, self.T, self.seed = segments, validation, B, T, seed
        self.first_window, windows = [], 0
        for seg in segments:
            self.first_window.append(windows)
            n = len(seg)
            windows += ((n - 1) // T if n > T else 0) if validation else max(0, n - T)
        self.windows = windows
        if windows == 0:
            raise MoetError(f"{'validation' if validation else 'training'} data has "
                            f"{sum(len(s) for s in segments)} tokens in {len(segments)} "
                            f"segment(s); a window needs T+1 = {T + 1} consecutive tokens inside "
                            "one")
        self.stream_tokens = sum(len(s) for s in segments)
        self.reset()

    def reset(self):
        self.rng = Rng(self.seed, _DATA_STREAM)
        self.next_window, self.batches = 0, 0

    def batches_per_pass(self):
        return max(1, self.windows // self.B) if self.validation else 0

    def _locate(self, window):
        seg = int(np.searchsorted(self.first_window, window, side="right")) - 1
        index = window - self.first_window[seg]
        return seg, index * self.T if self.validation else index

    def next(self):
        rows = np.empty((self.B, self.T + 1), dtype=np.int64)
        for b in range(self.B):
            if self.validation:
                window = self.next_window
                self.next_window = (self.next_window + 1) % self.windows
            else:
                window = self.rng.below(self.windows)
            seg, offset = self._locate(window)
            rows[b] = self.segments[seg][offset:offset + self.T + 1]
        self.batches += 1
        t = torch.from_numpy(rows)
        return t[:, :-1].contiguous(), t[:, 1:].contiguous()

    def state(self):
        """The loader's state as moet's checkpoints store it (state.json's train_loader)."""
        return {"B": self.B, "T": self.T, "batches": self.batches, "next_window": self.next_window,
                "rng": [f"{w:016x}" for w in self.rng.s],
                "rng_cached_normal_bits": f"{self.rng.cached_normal_bits:016x}",
                "rng_has_cached_normal": self.rng.has_cached_normal,
                "stream_tokens": self.stream_tokens, "validation": self.validation}

    def restore(self, state, source="train_loader"):
        try:
            if state["validation"] != self.validation:
                raise MoetError(f"{source}: state is for the "
                                f"{'validation' if state['validation'] else 'training'} split")
            if (state["B"], state["T"]) != (self.B, self.T):
                raise MoetError(f"{source}: saved with B = {state['B']}, T = {state['T']}; this "
                                f"run has B = {self.B}, T = {self.T}")
            if state["stream_tokens"] != self.stream_tokens:
                raise MoetError(f"{source}: saved on {state['stream_tokens']} tokens; this data "
                                f"has {self.stream_tokens} (different data?)")
            words = [int(w, 16) for w in state["rng"]]
            if len(words) != 4:
                raise MoetError(f"{source}: rng must hold 4 words")
            self.rng.s = words
            self.rng.cached_normal_bits = int(state["rng_cached_normal_bits"], 16)
            self.rng.has_cached_normal = bool(state["rng_has_cached_normal"])
            self.next_window, self.batches = int(state["next_window"]), int(state["batches"])
        except MoetError:
            raise
        except KeyError as e:
            raise MoetError(f"{source}: field {e.args[0]}: missing") from None
        except (TypeError, ValueError) as e:
            raise MoetError(f"{source}: {e}") from None
