"""The safetensors format (https://github.com/huggingface/safetensors), read and written here so
the package needs no safetensors library: an 8-byte little-endian header length, a JSON header
{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw data. moet writes
F32 only and pads the header with spaces to 8-byte alignment; this writer does the same, and the
reader also takes F64, F16, BF16 and integer tensors."""
import json
import os
import struct

import numpy as np
import torch

from .errors import MoetError

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def _check_entry(name, entry, data_size, source):
    where = f"{source}: tensor {name}"
    if not isinstance(entry, dict):
        raise MoetError(f"{where}: expected an object with dtype, shape and data_offsets")
    for key in entry:
        if key not in ("dtype", "shape", "data_offsets"):
            raise MoetError(f"{where}: unknown field {key}")
    for key in ("dtype", "shape", "data_offsets"):
        if key not in entry:
            raise MoetError(f"{where}: field {key} is missing")
    dtype = entry["dtype"]
    if dtype != "BF16" and dtype not in _DTYPES:
        raise MoetError(f"{where}: field dtype: {dtype!r} is not supported")
    shape, offsets = entry["shape"], entry["data_offsets"]
    ints = lambda v: isinstance(v, list) and all(  # noqa: E731
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v)
    if not ints(shape):
        raise MoetError(f"{where}: field shape: expected non-negative integers, got {shape}")
    if not ints(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise MoetError(f"{where}: field data_offsets: expected [begin, end], got {offsets}")
    if offsets[1] > data_size:
        raise MoetError(f"{where}: field data_offsets: {offsets} runs past the {data_size} bytes "
                        "of data (truncated file?)")
    itemsize = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
    need = itemsize * int(np.prod(shape, dtype=np.int64))
    if offsets[1] - offsets[0] != need:
        raise MoetError(f"{where}: field data_offsets: {offsets} holds {offsets[1] - offsets[0]} "
                        f"bytes, shape {shape} needs {need}")
    return dtype, shape, offsets


def decode(data, source="safetensors"):
    """(tensors: {name: torch.Tensor}, metadata: {str: str}) from the bytes of a file."""
    if len(data) < 8:
        raise MoetError(f"{source}: not a safetensors file (only {len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise MoetError(f"{source}: truncated safetensors file (header of {n} bytes, file of "
                        f"{len(data)})")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MoetError(f"{source}: safetensors header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise MoetError(f"{source}: safetensors header: expected a JSON object")
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise MoetError(f"{source}: __metadata__: expected an object of strings")
    spans, tensors = [], {}
    for name, entry in header.items():
        dtype, shape, (begin, end) = _check_entry(name, entry, len(body), source)
        spans.append((begin, end, name))
        raw = np.frombuffer(body[begin:end], dtype=np.uint16 if dtype == "BF16" else
                            np.dtype(_DTYPES[dtype]).newbyteorder("<"))
        if dtype == "BF16":
            t = torch.from_numpy(raw.astype(np.int32) << 16).view(torch.float32)
        else:
            t = torch.from_numpy(raw.astype(raw.dtype.newbyteorder("=")))
        tensors[name] = t.reshape(shape)
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise MoetError(f"{source}: tensor {n1}: field data_offsets: bytes [{b1}, {e1}) "
                            f"overlap tensor {n0}")
    return tensors, dict(metadata)


def read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MoetError(f"{path}: cannot read ({e.strerror})") from None
    return decode(data, os.fspath(path))


def encode(tensors, metadata=None):
    """Bytes of a safetensors file holding `tensors` ({name: tensor}, in order) as F32."""
    header, chunks, offset = {}, [], 0
    if metadata:
        # Sorted, as moet's std::map writes them: a file moet wrote is rewritten byte for byte.
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().to(torch.float32).numpy(), dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_atomic(path, data):
    """Writes bytes under a temporary name, syncs, then renames: never a half-written file."""
    path = os.fspath(path)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write(path, tensors, metadata=None):
    write_atomic(path, encode(tensors, metadata))
