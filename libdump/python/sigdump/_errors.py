"""The exceptions sigdump raises."""


class Error(Exception):
    """A dump could not be read or compared.

    ``code`` is libdump's error code ("truncated", "bad_header", "not_found",
    ...); ``file``, ``record`` (0-based index), ``name`` and ``offset`` say
    where, when known (else None). ``str(e)`` is the CLI's message.
    """

    def __init__(self, message, code="io", file=None, record=None, name=None, offset=None):
        super().__init__(message)
        self.code = code
        self.file = file
        self.record = record
        self.name = name
        self.offset = offset


class TruncatedError(Error):
    """The file shrank while it was read (or a record is cut by its end)."""


class NotFoundError(Error, KeyError):
    """No record of that name (the message lists the closest names)."""

    def __str__(self):  # KeyError would quote the message
        return Exception.__str__(self)


class DaemonError(Exception):
    """sigdumpd answered a request with an error (``code`` as in docs/protocol.md)."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class UntrustedSocket(DaemonError):
    """The socket is served by a process that is neither you nor root, or its
    folder is not private: nothing was sent (docs/protocol.md, "Transport")."""

    def __init__(self, message):
        super().__init__("untrusted", message)
