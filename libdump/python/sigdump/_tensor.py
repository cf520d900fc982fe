"""Tensor: the numpy array ``Dump.__getitem__`` returns."""

import numpy as np


class Tensor(np.ndarray):
    """A read-only numpy array of one record's real values, in its shape.

    For float payloads it is a view on the dump's memory mapping (no copy);
    for integer payloads of an ``isFloat: 0`` dump it holds the dequantized
    values ``(q - zero_point) * scale`` as float64, and ``raw`` is the
    zero-copy view of the stored integers. Arrays computed from a Tensor are
    plain ``numpy.ndarray``; slices and transposes stay Tensors.
    """

    record = None  # the sigdump.Record the values come from
    _raw = None
    _source = None
    _quantized = False

    @property
    def raw(self):
        """The stored values as they lie in the file (the integer view for a
        quantized record; the same values as the array itself for a float
        record). Read-only, no copy for binary dumps."""
        if self._raw is not None:
            return self._raw
        if self._quantized:
            raise ValueError("raw is kept on the whole tensor (and its layout view) only: "
                             "take dump[name].raw[...] instead")
        return self

    def check(self):
        """Raises sigdump.TruncatedError if the file no longer holds the
        bytes this array views (it was cut since). Returns self."""
        if self._source is not None:
            self._source.check()
        return self

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.record = getattr(obj, "record", None)
        self._raw = None
        self._source = getattr(obj, "_source", None)
        self._quantized = getattr(obj, "_quantized", False)

    def __array_wrap__(self, arr, context=None, *args):
        # Results of arithmetic own their data: plain arrays or scalars, as
        # numpy.memmap does.
        arr = np.ndarray.__array_wrap__(self, arr, context, *args)
        if self is arr or type(self) is not Tensor:
            return arr
        if arr.shape == ():
            return arr[()]
        return arr.view(np.ndarray)

    def __reduce__(self):
        # Pickles as a plain array (the mapping does not travel).
        return np.asarray(self).copy().__reduce__()

    def __repr__(self):
        name = self.record.name if self.record is not None else "?"
        return "Tensor(%s, %s)" % (name, np.array2string(np.asarray(self), threshold=20,
                                                         edgeitems=3))


def make_tensor(values, raw, record, layout=None):
    t = values.view(Tensor)
    t.record = record
    t._source = _source_of(values)
    if raw is not values:
        t._raw = raw.view(np.ndarray)
        t._quantized = True
    if layout is not None:
        t = _relayout(t, layout)
    return t


def _source_of(a):
    while a is not None and not hasattr(a, "check"):
        a = getattr(a, "base", None)
    return a


def _relayout(t, layout):
    layout = layout.lower()
    if layout not in ("nchw", "nhwc"):
        raise ValueError("layout: expected 'nchw' or 'nhwc', got %r" % layout)
    if t.ndim != 4:
        raise ValueError("layout=%r needs a 4-D record; %s has shape %s"
                         % (layout, t.record.name if t.record else "?", t.shape))
    # "nchw": the record is stored NHWC, give it as NCHW; "nhwc": the reverse.
    axes = (0, 3, 1, 2) if layout == "nchw" else (0, 2, 3, 1)
    raw = t._raw
    out = t.transpose(axes)
    out.record = t.record
    out._source = t._source
    out._raw = None if raw is None else raw.transpose(axes)
    out._quantized = t._quantized
    return out
