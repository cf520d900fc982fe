"""compare(): the offline comparison, as `sigdump compare --json` gives it."""

import html
import json
import math
import os
import warnings

from . import _core


def _path(p):
    # A Dump compares by its path (the file as it is now).
    return p.path if hasattr(p, "_core") else os.fspath(p)


def compare(sample, benchmark, *, cos_min=None, rmse_max=None, include_constants=False,
            include_inputs=False, name_map=None, quant_params=None, threads=0,
            format_sample=None, format_benchmark=None):
    """Compares every layer of ``sample`` against ``benchmark`` (paths or
    Dumps), exactly as ``sigdump compare --json`` does, and returns a
    CompareResult holding the same keys and numbers.

    Options are those of the CLI: ``cos_min`` (0.99), ``rmse_max`` (0.1),
    ``include_constants``, ``include_inputs``, ``name_map`` (a dict of
    sample name -> benchmark name, or the path of such a JSON file),
    ``quant_params`` (path of save_quant_param.py's JSON), ``threads``
    (0: every core), ``format_sample`` / ``format_benchmark`` ("binary" or
    "text"). The comparison runs without holding the GIL. A cut record at
    the end of a file gives a warning (the complete records are compared),
    as the CLI's stderr line.
    """
    nm_dict = nm_file = None
    if isinstance(name_map, dict):
        nm_dict = {str(k): str(v) for k, v in name_map.items()}
    elif name_map is not None:
        nm_file = os.fspath(name_map)
    core = _core.compare(
        _path(sample), _path(benchmark), cos_min, rmse_max, bool(include_constants),
        bool(include_inputs), nm_dict, nm_file,
        None if quant_params is None else os.fspath(quant_params), int(threads),
        format_sample, format_benchmark)
    for w in core.warnings:
        warnings.warn(w, RuntimeWarning, stacklevel=2)
    return CompareResult(core)


class CompareResult:
    """The result of compare(): the object of `sigdump compare --json`.

    ``r.data`` is that object (dicts, lists, numbers; NaN/Inf as None, as in
    the JSON). Its top-level keys read as attributes (``r.layers``,
    ``r.first_bad``, ``r.diagnosis``, ``r.advice``, ``r.summary``,
    ``r.unmatched``, ``r.coverage`` -- None when the report has no such
    key) and as items (``r["layers"]``). ``r.svg()`` is the metric chart.
    """

    def __init__(self, core):
        self._core = core
        self.json = core.json()
        self.data = json.loads(self.json)

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        data = self.__dict__.get("data")
        if data is None:
            raise AttributeError(key)
        if key in data:
            return data[key]
        if key == "coverage":
            return None
        raise AttributeError("compare result has no key %r (keys: %s)" % (key, ", ".join(data)))

    def __getitem__(self, key):
        return self.data[key]

    def __contains__(self, key):
        return key in self.data

    def keys(self):
        """The report's top-level keys."""
        return self.data.keys()

    def __eq__(self, other):
        if isinstance(other, CompareResult):
            return self.data == other.data
        return self.data == other

    __hash__ = None

    @property
    def suspect(self):
        """The layers that are suspect or could not be compared."""
        return [l for l in self.data["layers"] if l.get("suspect") or l.get("error")]

    def layer(self, name):
        """The layer of that (sample) name; KeyError if it was not compared."""
        for l in self.data["layers"]:
            if l["name"] == name:
                return l
        raise KeyError(name)

    def svg(self, standalone=True):
        """The COS/RMSE/MSE chart (the HTML report's) as SVG text."""
        return self._core.chart_svg(standalone)

    def to_pandas(self):
        """The layers as a pandas DataFrame indexed by layer index (needs
        pandas, which sigdump does not depend on)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("to_pandas() needs pandas (apt-get install python3-pandas)") from e
        df = pd.DataFrame(self.data["layers"])
        if "index" in df.columns:
            df = df.set_index("index")
        return df

    def __repr__(self):
        d = self.data
        bad = d.get("first_bad")
        return "<sigdump.CompareResult %s vs %s: %d layers, %d suspect%s>" % (
            d.get("sample"), d.get("benchmark"), len(d["layers"]), len(self.suspect),
            ", first bad %d %s" % (bad["index"], bad["name"]) if bad else "")

    def _repr_html_(self, limit=50):
        d = self.data
        layers = d["layers"]
        bad = d.get("first_bad")
        bad_index = bad["index"] if bad else None

        def num(v):
            if v is None:
                return "nan"
            return "%.6f" % v if math.isfinite(v) else str(v)

        rows = []
        for l in layers[:limit]:
            style = ""
            if l.get("error"):
                style = " style='background:#fdd'"
            elif l.get("suspect"):
                style = " style='background:#fed'"
            if l["index"] == bad_index:
                style = " style='background:#fbb;font-weight:bold'"
            rows.append(
                "<tr%s><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s</td></tr>" % (
                    style, l["index"], html.escape(l["name"]), html.escape(l.get("op") or ""),
                    l.get("shape"),
                    *(("", "", "") if l.get("error") else
                      (num(l.get("mse")), num(l.get("cos")), num(l.get("rmse")))),
                    html.escape(l.get("error") or ("suspect" if l.get("suspect") else ""))))
        more = len(layers) - limit
        if more > 0:
            rows.append("<tr><td colspan=8>... %d more layers (r.layers, r.to_pandas())</td></tr>"
                        % more)
        head = "<p><b>%s</b> vs <b>%s</b>: %d layers, %d suspect</p>" % (
            html.escape(str(d.get("sample"))), html.escape(str(d.get("benchmark"))),
            len(layers), len(self.suspect))
        if bad:
            head += "<p>first bad layer: %d %s (%s)</p>" % (
                bad["index"], html.escape(bad["name"]), html.escape(bad.get("reason") or ""))
        diag = d.get("diagnosis") or {}
        if diag.get("text"):
            head += "<p>diagnosis: %s</p>" % html.escape(diag["text"])
        advice = d.get("advice") or {}
        if advice.get("input_config"):
            head += "<pre>%s</pre>" % html.escape(advice["input_config"])
        return ("<div class='sigdump-compare'>%s%s<table><thead><tr><th>#</th><th>name</th>"
                "<th>op</th><th>shape</th><th>MSE</th><th>COS</th><th>RMSE</th><th></th></tr>"
                "</thead><tbody>%s</tbody></table></div>"
                % (head, self._core.chart_svg(False), "".join(rows)))
