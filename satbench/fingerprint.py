"""SHA-256 fingerprints over canonical bytes, identical in every process.

Never Python's hash(): it is salted per process. A fingerprint covers a canonical JSON document
(sorted keys, no whitespace, ASCII) followed by each array's dtype, shape and little-endian bytes.
"""

import hashlib
import json

import numpy as np


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256_of(document, *arrays: np.ndarray) -> str:
    digest = hashlib.sha256(canonical_json(document))
    for array in arrays:
        array = np.ascontiguousarray(array)
        little_endian = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(canonical_json({"dtype": little_endian.dtype.str, "shape": array.shape}))
        digest.update(little_endian.tobytes())
    return digest.hexdigest()
