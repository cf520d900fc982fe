"""Shared fixtures of the Python package tests: where the built programs
are, and a writer of dump files in every variant (independent of libdump:
the layout of docs/format.md written byte by byte)."""

import json
import os
import subprocess

import numpy as np
import pytest

BIN_DIR = os.environ.get("SIGDUMP_BIN_DIR", "")

VENDOR = {"f32": "float", "u8": "SGS_U8", "s8": "SGS_S8", "u16": "SGS_U16", "s16": "SGS_S16",
          "s32": "SGS_S32", "bool": "SGS_BOOL"}
NUMPY = {"f32": "<f4", "u8": "u1", "s8": "i1", "u16": "<u2", "s16": "<i2", "s32": "<i4",
         "bool": "u1"}


def program(name):
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built (SIGDUMP_BIN_DIR=%r)" % (name, BIN_DIR))
    return path


def run_json(*args):
    out = subprocess.run(args, check=False, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


class Rec:
    """One record to write: `q` holds the stored values (for isFloat: 0 and
    an integer type, the integers; otherwise float32 values)."""

    def __init__(self, name, kind="f32", shape=(2, 3), q=None, scale=1.0, zero_point=0,
                 io="out", port=0, op_index=0, op="CONV_2D", constant=False, pad_inner_to=0,
                 extra_bytes=0, type_name=None, declared=None, text_values=None):
        self.name, self.kind, self.shape = name, kind, tuple(shape)
        self.q = q
        self.scale, self.zero_point = scale, zero_point
        self.io, self.port, self.op_index, self.op = io, port, op_index, op
        self.constant = constant
        self.pad_inner_to, self.extra_bytes = pad_inner_to, extra_bytes
        self.type_name = type_name or VENDOR[kind]
        self.declared = declared
        self.text_values = text_values

    def header(self, nbytes):
        dims = len(self.shape)
        return ("//%s %d s: %s z: %d type: %s name: %s bConstant:%d shape:[%s] dims:%d\n"
                "op_%s[%d] %s = {\n//buffer data size: %d\n" % (
                    self.io, self.port, repr(float(self.scale)), self.zero_point,
                    self.type_name, self.name, 1 if self.constant else 0,
                    ", ".join(str(d) for d in self.shape), dims, self.io, self.op_index,
                    self.op, nbytes)).encode()


def write_dump(path, recs, is_float=True, variant="binary", trailer="\n};\n"):
    """Writes the records; returns the file's bytes."""
    out = bytearray(b"isFloat: %d\n" % (1 if is_float else 0))
    for r in recs:
        storage = "f32" if is_float or r.kind == "f32" else r.kind
        q = np.asarray(r.q, dtype=NUMPY[storage]).reshape(r.shape)
        if variant == "binary":
            rows = q.reshape(-1, r.shape[-1] if r.shape else 1)
            if r.pad_inner_to:
                padded = np.zeros((rows.shape[0], r.pad_inner_to), dtype=q.dtype)
                padded[:, :rows.shape[1]] = rows
                rows = padded
            payload = rows.tobytes() + b"\x7f" * r.extra_bytes
            if r.declared is not None:  # a payload smaller than its shape
                payload = payload[:r.declared]
            n = len(payload)
            out += r.header(n) + payload + trailer.encode()
        else:
            vals = r.text_values if r.text_values is not None else [
                ("%.6f" % v) if storage == "f32" else "%6d" % v for v in q.ravel()]
            lines = [", ".join(vals[i:i + 16]) + ", " for i in range(0, len(vals), 16)]
            out += r.header(q.nbytes) + b"\n" + "\n".join(lines).encode() + b"\n};\n"
    with open(path, "wb") as f:
        f.write(out)
    return bytes(out)


@pytest.fixture
def sigdump_bin():
    return program("sigdump")


@pytest.fixture
def sigdumpd_bin():
    return program("sigdumpd")
