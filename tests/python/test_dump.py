"""sigdump.open and Dump: records, lookups, values (zero copy), truncation."""

import gc
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sigdump
from conftest import NUMPY, Rec, run_json, write_dump

rng = np.random.default_rng(7)


def float_recs():
    return [
        Rec("data", shape=(1, 4, 4, 3), q=rng.normal(size=48), op="INPUT"),
        Rec("conv1/bn_xx_xx", shape=(1, 2, 2, 5), q=rng.normal(size=20) * 100),
        Rec("conv1/weights", shape=(5, 3), q=rng.normal(size=15), io="in", port=1, constant=True),
        Rec("s16:as/float", kind="s16", shape=(3, 4), q=rng.normal(size=12)),
        Rec("padded", shape=(2, 3), q=rng.normal(size=6), pad_inner_to=8),
        Rec("longer", shape=(7,), q=rng.normal(size=7), extra_bytes=12),
        Rec("rank3", shape=(2, 2, 5), q=np.array([np.nan, np.inf, -np.inf] + [0.5] * 17)),
        Rec("conv1/bn_xx_xx", shape=(1, 2, 2, 5), q=rng.normal(size=20), op_index=3),
    ]


def quant_recs():
    return [
        Rec("in_u8", kind="u8", shape=(1, 2, 2, 4), q=rng.integers(0, 256, 16), scale=0.0078125,
            zero_point=128),
        Rec("w_s8", kind="s8", shape=(4, 3), q=rng.integers(-128, 128, 12), scale=0.02,
            constant=True, io="in", port=1),
        Rec("u16", kind="u16", shape=(5, 2), q=rng.integers(0, 65536, 10), scale=0.001,
            zero_point=32768),
        Rec("conv2/s16", kind="s16", shape=(1, 3, 3, 2), q=rng.integers(-32768, 32768, 18),
            scale=0.000239, zero_point=-3),
        Rec("bias_s32", kind="s32", shape=(6,), q=rng.integers(-2**31, 2**31, 6), scale=1e-5,
            constant=True),
        Rec("mask", kind="bool", shape=(2, 4), q=rng.integers(0, 2, 8)),
        Rec("float_in_fixed", kind="f32", shape=(2, 2), q=rng.normal(size=4)),
        Rec("padded_s16", kind="s16", shape=(3, 3), q=rng.integers(-500, 500, 9), scale=0.5,
            pad_inner_to=4),
    ]


VARIANTS = {
    "float-binary": (float_recs, True, "binary", "\n};\n"),
    "float-binary-no-trailer": (float_recs, True, "binary", ""),
    "quant-binary": (quant_recs, False, "binary", "\n};\n"),
    "float-text": (lambda: [r for r in float_recs() if not (r.pad_inner_to or r.extra_bytes)],
                   True, "text", None),
    "quant-text": (lambda: [r for r in quant_recs() if not r.pad_inner_to], False, "text", None),
}


@pytest.fixture(params=sorted(VARIANTS))
def variant_file(request, tmp_path):
    make, is_float, variant, trailer = VARIANTS[request.param]
    recs = make()
    path = str(tmp_path / ("%s.bin" % request.param))
    data = write_dump(path, recs, is_float, variant, trailer if trailer is not None else "")
    return path, recs, is_float, variant, data


def expected_real(rec, is_float):
    """The real values by the format's definition, from what was written."""
    storage = "f32" if is_float or rec.kind == "f32" else rec.kind
    q = np.asarray(rec.q, dtype=NUMPY[storage]).astype(np.float64).reshape(rec.shape)
    if storage == "f32":
        return q
    return (q - rec.zero_point) * rec.scale


def numpy_read(data, r, rec, is_float, variant):
    """numpy's own reading of the record's bytes at libdump's offset."""
    storage = "f32" if is_float or rec.kind == "f32" else rec.kind
    if variant == "text":
        text = data[r.offset:r.offset + r.bytes].decode()
        toks = [t for t in text.replace(",", " ").split() if t not in ("};", "}")]
        if storage == "f32":
            q = np.array([float(t) for t in toks[:r.elements]], dtype=np.float32)
        else:  # stored integers are read as integers (exact above 2^24)
            q = np.array([int(t) for t in toks[:r.elements]], dtype=np.int64)
        q = q.astype(np.float64)
    else:
        inner = rec.shape[-1] if rec.shape else 1
        stride = rec.pad_inner_to or inner
        count = (r.elements // inner) * stride
        q = np.frombuffer(data, dtype=NUMPY[storage], count=count, offset=r.offset)
        q = q.reshape(-1, stride)[:, :inner].astype(np.float64)
    q = q.reshape(rec.shape)
    if storage == "f32":
        return q
    return (q - r.zero_point) * r.scale


def test_records_equal_ls_json(variant_file, sigdump_bin):
    path, recs, is_float, variant, _ = variant_file
    d = sigdump.open(path)
    ls = run_json(sigdump_bin, "ls", path, "--json")
    assert len(d) == len(ls["records"]) == len(recs)
    assert d.is_float == is_float and d.variant == variant
    for r, j, spec in zip(d, ls["records"], recs):
        assert (r.index, r.kind, r.output, r.op_index, r.op, r.name, list(r.shape), r.type,
                r.constant, r.offset, r.bytes, r.problem) == tuple(j.values())
        assert r.to_dict()["name"] == spec.name
        assert (r.scale, r.zero_point) == (float(spec.scale), spec.zero_point)


def test_values_equal_libdump_and_numpy(variant_file, sigdump_bin):
    path, recs, is_float, variant, data = variant_file
    d = sigdump.open(path)
    for r, spec in zip(d, recs):
        t = d[r]  # by Record: names repeat
        assert t.shape == spec.shape
        assert not t.flags.writeable
        got = np.asarray(t, dtype=np.float64)
        want = expected_real(spec, is_float)
        if variant == "text":  # text holds "%.6f" of the values
            want = numpy_read(data, r, spec, is_float, variant)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, numpy_read(data, r, spec, is_float, variant))
        show = run_json(sigdump_bin, "show", path, spec.name, "--occurrence",
                        str(d.occurrences(spec.name).index(r)), "--json",
                        "--values", "0:%d" % r.elements)
        assert show["record"]["index"] == r.index
        lib = np.array([np.nan if v is None else v for v in show["values"]["data"]])
        finite = np.isfinite(got.ravel())
        np.testing.assert_array_equal(got.ravel()[finite], lib[finite])
        assert np.all(np.isnan(lib[~finite]))  # libdump's JSON writes non-finite as null
        quantized = not is_float and spec.kind != "f32"
        assert t.dtype == (np.float64 if quantized else np.float32)
        if quantized and variant == "binary":
            assert t.raw.dtype == np.dtype(NUMPY[spec.kind])
            np.testing.assert_array_equal(
                t.raw, np.asarray(spec.q, dtype=NUMPY[spec.kind]).reshape(spec.shape))


def test_float_records_are_views_on_the_mapping(tmp_path):
    path = str(tmp_path / "f.bin")
    write_dump(path, float_recs())
    d = sigdump.open(path)
    a = d["data"]
    b = d.array("data")
    assert not a.flags.owndata and not b.flags.owndata
    assert np.shares_memory(a, b)
    # The mapped bytes themselves: the array's address lies at the record's
    # offset from the start of the mapping shared by every record.
    first = d[0]
    start = first.__array_interface__["data"][0] - d.records[0].offset
    assert a.__array_interface__["data"][0] == start + d.record("data").offset
    padded = d["padded"]
    assert padded.strides == (8 * 4, 4) and np.shares_memory(padded, d["padded"])
    nchw = d.array("data", layout="nchw")
    assert nchw.shape == (1, 3, 4, 4) and np.shares_memory(nchw, a)
    np.testing.assert_array_equal(nchw, np.transpose(np.asarray(a), (0, 3, 1, 2)))
    np.testing.assert_array_equal(d.array("data", layout="nhwc"),
                                  np.transpose(np.asarray(a), (0, 2, 3, 1)))
    with pytest.raises(ValueError):
        d.array("padded", layout="nchw")


def test_integer_raw_is_a_view(tmp_path):
    path = str(tmp_path / "q.bin")
    write_dump(path, quant_recs(), is_float=False)
    d = sigdump.open(path)
    t = d["conv2/s16"]
    assert t.raw.dtype == np.int16 and not t.raw.flags.owndata
    assert np.shares_memory(t.raw, d["conv2/s16"].raw)
    nchw = d.array("conv2/s16", layout="nchw")
    assert nchw.raw.shape == (1, 2, 3, 3) and np.shares_memory(nchw.raw, t.raw)


def test_array_outlives_its_dump(tmp_path):
    path = str(tmp_path / "f.bin")
    recs = float_recs()
    write_dump(path, recs)
    d = sigdump.open(path)
    a = d["conv1/weights"]
    del d
    gc.collect()
    sigdump.open(path)  # another mapping, to reuse freed memory if it were freed
    np.testing.assert_array_equal(a, expected_real(recs[2], True))
    a.check()


def test_lookup_and_iteration(tmp_path):
    path = str(tmp_path / "f.bin")
    write_dump(path, float_recs())
    d = sigdump.open(path)
    assert [r.index for r in d] == list(range(len(d)))
    assert "conv1_bn_xx_xx" in d and "nope" not in d
    occ = d.occurrences("conv1_bn_xx_xx")  # sanitized
    assert [r.index for r in occ] == [1, 7]
    assert d.record("conv1/bn_xx_xx").index == 7  # the last output, as sigdump show
    assert d.record("conv1/bn_xx_xx", occurrence=0).index == 1
    assert d.record("s16as_float").name == "s16:as/float"
    np.testing.assert_array_equal(d["conv1/bn_xx_xx"], d[7])
    with pytest.raises(KeyError) as e:
        d["conv1/bn_xx"]
    assert isinstance(e.value, sigdump.NotFoundError) and "conv1/bn_xx_xx" in str(e.value)
    assert "<table>" in d._repr_html_()


def test_record_with_a_problem_raises(tmp_path):
    path = str(tmp_path / "bad.bin")
    write_dump(path, [Rec("odd", shape=(2,), q=[1, 2], type_name="SGS_FOO"),
                      Rec("small", shape=(4,), q=[1, 2, 3, 4], declared=8, extra_bytes=0),
                      Rec("ok", shape=(2,), q=[1, 2])])
    d = sigdump.open(path)
    assert d.record("odd").problem and d.record("small").problem
    for name in ("odd", "small"):
        with pytest.raises(sigdump.Error):
            d[name]
    np.testing.assert_array_equal(d["ok"], [1, 2])


def test_refresh_follows_a_growing_file(tmp_path):
    path = str(tmp_path / "g.bin")
    recs = float_recs()
    data = write_dump(path, recs)
    cut = data.index(b"//out 0 s: 1.0 z: 0 type: float name: longer")
    with open(path, "wb") as f:
        f.write(data[:data.index(b"\n", data.index(b"//buffer", cut)) + 10])
    d = sigdump.open(path)
    n = len(d)
    assert d.pending is not None and d.pending["name"] == "longer"
    kept = d["data"]
    assert d.refresh() == "unchanged"
    with open(path, "wb") as f:  # in place: same inode
        f.write(data)
    assert d.refresh() == "grew"
    assert len(d) == len(recs) > n and d.pending is None
    np.testing.assert_array_equal(kept, d["data"])


def test_truncating_under_a_live_array_raises(tmp_path):
    assert sigdump.fault_handler_active()
    path = str(tmp_path / "t.bin")
    big = Rec("big", shape=(64, 1024), q=np.ones(65536))
    quant = Rec("q", kind="s16", shape=(64, 1024), q=np.full(65536, 3), scale=0.5)
    write_dump(path, [big])
    d = sigdump.open(path)
    a = d["big"]
    view = a[::2]
    assert float(a.sum()) == 65536.0
    os.truncate(path, d.record("big").offset + 4096)
    with pytest.raises(sigdump.TruncatedError):
        float(a.sum())
    with pytest.raises(sigdump.TruncatedError):
        a.check()
    with pytest.raises(sigdump.TruncatedError):
        view.check()
    with pytest.raises(sigdump.TruncatedError):
        d["big"]
    # Dequantized values are read by sigdump under its guard: an error
    # naming the record, raised at once.
    qpath = str(tmp_path / "q.bin")
    write_dump(qpath, [quant], is_float=False)
    q = sigdump.open(qpath)
    raw = q["q"].raw
    os.truncate(qpath, q.record("q").offset + 100)
    with pytest.raises(sigdump.TruncatedError) as e:
        q["q"]
    assert e.value.record == 0 and e.value.file == qpath
    with pytest.raises(sigdump.TruncatedError):
        int(raw.astype(np.int64).sum())


def test_vanished_file_in_a_child_process(tmp_path):
    # Where nothing is caught: a child that reads the array after the file
    # is gone must exit with the exception, not be killed by SIGBUS.
    path = str(tmp_path / "v.bin")
    write_dump(path, [Rec("big", shape=(256, 1024), q=np.ones(262144))])
    code = (
        "import os, sigdump\n"
        "d = sigdump.open(%r)\n"
        "a = d['big']\n"
        "os.truncate(%r, 0); os.unlink(%r)\n"
        "print(a.max())\n" % (path, path, path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ))
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert "sigdump._errors.TruncatedError" in out.stderr
    assert "file shrank while being read" in out.stderr
