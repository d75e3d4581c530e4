"""A frozen dataclass of NumPy arrays (a step's trace, its exercise numbers) as bytes,
for Redis: a JSON header naming each field's dtype and shape, then the arrays' raw
bytes. Floats go as ``float.hex`` and arrays keep their dtype, so what is read back
equals what was written, bit for bit (NaN and infinities included).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import numpy as np
import orjson

T = TypeVar("T")
HEAD = 4  # bytes holding the header's length


def pack(obj: Any) -> bytes:
    blobs: list[bytes] = []
    header = {f.name: _describe(getattr(obj, f.name), blobs) for f in dataclasses.fields(obj)}
    head = orjson.dumps(header)
    return len(head).to_bytes(HEAD, "little") + head + b"".join(blobs)


def unpack(cls: type[T], data: bytes) -> T:
    n = int.from_bytes(data[:HEAD], "little")
    header = orjson.loads(data[HEAD : HEAD + n])
    at = [HEAD + n]
    return cls(**{name: _read(spec, data, at) for name, spec in header.items()})


def _describe(value: Any, blobs: list[bytes]) -> dict:
    if isinstance(value, np.ndarray):
        blobs.append(value.tobytes())  # C order, whatever the layout
        return {"a": [value.dtype.str, list(value.shape)]}
    if isinstance(value, tuple):
        return {"t": [_describe(v, blobs) for v in value]}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return {"f": value.hex()}
    return {"v": value}  # int, bool, str, None


def _read(spec: dict, data: bytes, at: list[int]) -> Any:
    if "a" in spec:
        dtype, shape = np.dtype(spec["a"][0]), tuple(spec["a"][1])
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(data, dtype, offset=at[0], count=size // dtype.itemsize)
        at[0] += size
        array = array.reshape(shape).copy()  # its own, writable memory; then frozen
        array.flags.writeable = False
        return array
    if "t" in spec:
        return tuple(_read(s, data, at) for s in spec["t"])
    if "f" in spec:
        return float.fromhex(spec["f"])
    return spec["v"]
