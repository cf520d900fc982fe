"""Read SigmaStar IPU tensor dumps, compare them, and follow sigdumpd.

    >>> import sigdump
    >>> d = sigdump.open("fixed_sigma_outtensor_dump.bin")
    >>> x = d["conv1/bn_xx_xx"]          # numpy, real values, record's shape
    >>> r = sigdump.compare("fixed.bin", "float.bin")
    >>> r.first_bad["name"]

See docs/python.md for the guarantees (zero copy, truncated files) and a
walk through the workflow.
"""

import os
import signal as _signal
import threading as _threading

from . import _core
from ._errors import DaemonError, Error, NotFoundError, TruncatedError, UntrustedSocket
from ._tensor import Tensor, make_tensor as _make_tensor
from ._core import Record, sanitize_name
from ._compare import CompareResult, compare
from ._dump import Dump
from .client import Client, Subscription

__all__ = [
    "open", "compare", "Dump", "Record", "Tensor", "CompareResult", "Client", "Subscription",
    "Error", "TruncatedError", "NotFoundError", "DaemonError", "UntrustedSocket",
    "sanitize_name", "fault_handler_active",
]
__version__ = "0.1.0"


def open(path, format=None):  # noqa: A001 (the package's verb, like gzip.open)
    """Opens a dump file (any variant) and parses its complete records.

    ``format`` forces "binary" or "text" instead of detecting it. Raises
    sigdump.Error (bad header, not a dump, unreadable). A record cut by the
    end of the file is not an error: see ``Dump.pending`` and ``refresh()``.
    """
    return Dump(_core._Dump.open(os.fspath(path), format))


def _on_vanished(signum, frame):
    gone = _core._take_vanished()
    if not gone:
        return
    path, offset = gone[0]
    raise TruncatedError(
        "%s: file shrank while being read: bytes from offset %d are gone under a live array "
        "(it reads zeros from there on; re-open the dump)" % (path, offset),
        "truncated", path, None, None, offset)


def _install():
    # A numpy array over a file cut under it: the module's SIGBUS handler maps
    # zeros over the lost pages and makes Python call _on_vanished, which
    # raises. Python handlers run in the main thread only, so this is set up
    # only when imported there; elsewhere such an access ends the process
    # with SIGBUS, as for any memory-mapped file.
    _core._capture_previous_handler()
    patch = False
    if _threading.current_thread() is _threading.main_thread():
        try:
            _signal.signal(_signal.SIGBUS, _on_vanished)
            patch = True
        except (ValueError, OSError):
            patch = False
    _core._install_fault_handler(patch)
    return patch


_fault_handler = _install()


def fault_handler_active():
    """True when a file truncated under a live array raises TruncatedError
    (the package was imported in the main thread); False when such an access
    ends the process with SIGBUS as any mmap would."""
    return _fault_handler and _signal.getsignal(_signal.SIGBUS) is _on_vanished
