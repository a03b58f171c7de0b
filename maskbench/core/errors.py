"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class MaskbenchError(Exception):
    """A user-facing error: bad input, missing file, impossible configuration.

    The message must say what is wrong and what to do; the CLI prints it on one line.
    """
