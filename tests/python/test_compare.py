"""sigdump.compare: the same result as `sigdump compare --json`."""

import json
import subprocess
import threading
import time

import numpy as np
import pytest

import sigdump
from conftest import Rec, program, write_dump


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    exe = program("sigdump")
    files = {}
    for name, args in {"float": ["--mode", "float"], "fixed": ["--mode", "fixed"],
                       "fixed16": ["--mode", "fixed", "--int16", "conv3_1/expand/bn_xx_xx"],
                       "dequant": ["--mode", "fixed", "--dequant"]}.items():
        files[name] = str(d / (name + ".bin"))
        subprocess.run([exe, "simulate", *args, "--out", files[name]], check=True,
                       capture_output=True)
    files["name_map"] = str(d / "map.json")
    with open(files["name_map"], "w") as f:
        json.dump({"conv1/bn_xx_xx": "conv2_1/dwise/bn_xx_xx"}, f)
    return files


def cli_json(sample, bench, *opts):
    out = subprocess.run([program("sigdump"), "compare", sample, bench, "--json", *opts],
                         capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


CASES = [
    ("fixed", "float", [], {}),
    ("fixed16", "float", [], {}),
    ("dequant", "float", [], {}),
    ("float", "float", [], {}),
    ("fixed", "float", ["--cos-min", "0.999", "--rmse-max", "0.05", "--include-constants",
                        "--include-inputs"],
     dict(cos_min=0.999, rmse_max=0.05, include_constants=True, include_inputs=True)),
    ("fixed", "float", ["--name-map", "{name_map}", "--threads", "1"],
     dict(name_map="{name_map}", threads=1)),
]


@pytest.mark.parametrize("sample,bench,cli_opts,py_opts", CASES)
def test_compare_equals_cli(sim, sample, bench, cli_opts, py_opts):
    cli_opts = [o.format(**sim) for o in cli_opts]
    py_opts = {k: v.format(**sim) if isinstance(v, str) else v for k, v in py_opts.items()}
    want = cli_json(sim[sample], sim[bench], *cli_opts)
    got = sigdump.compare(sim[sample], sim[bench], **py_opts)
    assert got.data == want
    assert json.loads(got.json) == want
    assert got.layers == want["layers"] and got.first_bad == want["first_bad"]
    assert got.diagnosis == want["diagnosis"] and got.advice == want["advice"]
    assert got.coverage == want.get("coverage")
    # From Dump objects too.
    assert sigdump.compare(sigdump.open(sim[sample]), sigdump.open(sim[bench]),
                           **py_opts) == want


def test_name_map_as_dict(sim):
    with open(sim["name_map"]) as f:
        mapping = json.load(f)
    want = cli_json(sim["fixed"], sim["float"], "--name-map", sim["name_map"])
    assert sigdump.compare(sim["fixed"], sim["float"], name_map=mapping).data == want


def test_result_views(sim):
    r = sigdump.compare(sim["fixed"], sim["float"])
    assert r.first_bad["name"] == "conv3_1/linear/bn_xx"
    assert [l["index"] for l in r.suspect] == [l["index"] for l in r.layers
                                                if l["suspect"] or l["error"]]
    assert r.layer("conv3_1/linear/bn_xx")["index"] == 8
    assert r.svg().startswith("<?xml")
    html = r._repr_html_()
    assert "<table>" in html and "<svg" in html and "conv3_1/linear/bn_xx" in html
    with pytest.raises(AttributeError):
        r.no_such_key


def test_to_pandas(sim):
    pd = pytest.importorskip("pandas")
    df = sigdump.compare(sim["fixed"], sim["float"]).to_pandas()
    assert isinstance(df, pd.DataFrame) and df.loc[8, "name"] == "conv3_1/linear/bn_xx"


def test_errors(sim, tmp_path):
    with pytest.raises(sigdump.Error) as e:
        sigdump.compare(str(tmp_path / "missing.bin"), sim["float"])
    assert e.value.code == "io" and "missing.bin" in str(e.value)
    with pytest.raises(ValueError):
        sigdump.compare(sim["fixed"], sim["float"], format_sample="csv")


def test_cut_tail_warns(sim, tmp_path):
    cut = tmp_path / "cut.bin"
    data = open(sim["fixed"], "rb").read()
    cut.write_bytes(data[:len(data) - 100])
    with pytest.warns(RuntimeWarning, match="compared the complete records only"):
        r = sigdump.compare(str(cut), sim["float"])
    assert r.data == cli_json(str(cut), sim["float"])


def test_compare_releases_the_gil(tmp_path):
    # While another thread is inside compare(), this one keeps running only
    # if the GIL was released: count what it sees during the calls. Holding
    # the GIL, at most one look per call could slip in before the C++ code.
    rng = np.random.default_rng(1)
    recs = [Rec("l%d" % i, shape=(1, 1024, 1024), q=rng.normal(size=1 << 20)) for i in range(12)]
    a, b = str(tmp_path / "a.bin"), str(tmp_path / "b.bin")
    write_dump(a, recs)
    write_dump(b, recs)
    del recs
    state = {"in_call": False, "done": False, "results": []}
    calls = 5

    def work():
        for _ in range(calls):
            state["in_call"] = True
            state["results"].append(sigdump.compare(a, b, threads=1))
            state["in_call"] = False
        state["done"] = True

    t = threading.Thread(target=work)
    seen = 0
    t.start()
    while not state["done"]:
        if state["in_call"]:
            seen += 1
        time.sleep(0.0002)
    t.join()
    assert len(state["results"]) == calls and len(state["results"][0].layers) == 12
    assert seen > 2 * calls, "this thread ran %d times during %d comparisons" % (seen, calls)
