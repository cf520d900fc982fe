"""Dump: a dump file opened from Python."""

import html

from . import _core
from ._errors import NotFoundError
from ._tensor import make_tensor


class Dump:
    """A dump file: its records in file order, lookups by name, values as numpy.

    ``len(d)``, ``for rec in d``, ``d[i]`` / ``d["name"]`` / ``d[record]``
    (a Tensor), ``"name" in d``. Names match exactly, then by the vendor's
    sanitized form ('/' -> '_', ':' removed). The mapping of the file lives
    as long as this object or any array taken from it.
    """

    def __init__(self, core):
        self._core = core
        self._records = None

    # -- records --------------------------------------------------------
    @property
    def path(self):
        """The path the dump was opened with."""
        return self._core.path

    @property
    def variant(self):
        """'binary' or 'text'."""
        return self._core.variant

    @property
    def is_float(self):
        """The first line's isFloat (True when absent)."""
        return self._core.is_float

    @property
    def pending(self):
        """The record cut by the end of the file, or None: a dict with
        offset, record, name, needed and available (bytes)."""
        return self._core.pending

    @property
    def records(self):
        """Every complete record, in file order (a list of sigdump.Record)."""
        if self._records is None:
            self._records = self._core.records()
        return self._records

    def __len__(self):
        return len(self._core)

    def __iter__(self):
        return iter(self.records)

    def __contains__(self, name):
        return bool(self._core.find(name))

    def occurrences(self, name):
        """Every record named ``name`` (exactly, else sanitized) in file order:
        inputs and outputs of the tensor, repeated runs. Empty if none."""
        recs = self.records
        return [recs[i] for i in self._core.find(name)]

    def record(self, name, occurrence=None):
        """The record ``sigdump show FILE NAME`` shows: the last output record
        of that name, else the last record; ``occurrence`` (0-based, file
        order) picks another. Raises NotFoundError (KeyError) with the
        closest names."""
        if isinstance(name, _core.Record):
            return name
        if isinstance(name, int):
            return self._core.record(name)
        ids = self._core.find(name)
        if not ids:
            close = self._core.closest(name)
            raise NotFoundError(
                "%s: no record named '%s'%s" % (self.path, name,
                                                 "; closest: " + ", ".join(close) if close else ""),
                "not_found", self.path, None, name, None)
        recs = self.records
        if occurrence is not None:
            if not 0 <= occurrence < len(ids):
                raise IndexError("'%s' occurs %d time(s); occurrence must be below that"
                                 % (name, len(ids)))
            return recs[ids[occurrence]]
        outs = [i for i in ids if recs[i].kind == "out"]
        return recs[(outs or ids)[-1]]

    # -- values ---------------------------------------------------------
    def __getitem__(self, key):
        return self.array(key)

    def array(self, key, occurrence=None, layout=None):
        """The real values of a record (name, index or Record) as a
        read-only sigdump.Tensor (a numpy array) in the record's shape.

        Float payloads: a view on the mapping (no copy). Integer payloads of
        an isFloat: 0 dump: float64 ``(q - zero_point) * scale``, with
        ``.raw`` the zero-copy integer view. ``layout="nchw"`` gives a 4-D
        record stored NHWC as NCHW (``"nhwc"`` the reverse), still a view.
        Raises sigdump.Error for a record whose values cannot be read and
        TruncatedError when its bytes are no longer in the file.
        """
        rec = self.record(key, occurrence)
        values, raw = self._core.arrays(rec.index)
        return make_tensor(values, raw, rec, layout)

    def stats(self, key, occurrence=None):
        """count, min, max, mean, std (finite values), zeros, nan, inf of a
        record's real values, as ``sigdump show`` computes them."""
        return self._core.stats(self.record(key, occurrence).index)

    def refresh(self):
        """Looks at the file again: 'unchanged', 'grew' (new complete records
        appended) or 'reset' (replaced, truncated or rewritten: the records
        describe the new content). Arrays taken before keep their mapping."""
        status = self._core.refresh()
        if status != "unchanged":
            self._records = None
        return status

    # -- display --------------------------------------------------------
    def __repr__(self):
        return "<sigdump.Dump %s: %d records, %s%s>" % (
            self.path, len(self), self.variant,
            ", isFloat 1" if self.is_float else ", isFloat 0")

    def _repr_html_(self, limit=40):
        rows = []
        recs = self.records
        for r in recs[:limit]:
            rows.append(
                "<tr><td>%d</td><td>%s %d</td><td>%s</td><td>%s</td><td>%s</td>"
                "<td>%s</td><td>%s</td><td>%s</td></tr>" % (
                    r.index, r.kind, r.output, html.escape(r.name), html.escape(r.op),
                    html.escape(r.type), list(r.shape),
                    "const" if r.constant else "",
                    html.escape(r.problem or "")))
        more = len(recs) - limit
        tail = ("<tr><td colspan=8>... %d more records (d.records)</td></tr>" % more
                if more > 0 else "")
        pend = self.pending
        note = ("<p>pending: record %d (%s) cut by the end of the file (%d of %d bytes)</p>"
                % (pend["record"], html.escape(pend["name"] or "?"), pend["available"],
                   pend["needed"]) if pend else "")
        return ("<div class='sigdump-dump'><p><b>%s</b>: %d records, %s, isFloat %d</p>%s"
                "<table><thead><tr><th>#</th><th>kind</th><th>name</th><th>op</th><th>type</th>"
                "<th>shape</th><th></th><th>problem</th></tr></thead><tbody>%s%s</tbody></table>"
                "</div>" % (html.escape(self.path), len(recs), self.variant,
                            1 if self.is_float else 0, note, "".join(rows), tail))
