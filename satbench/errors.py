"""The one exception type for user errors: the CLI prints its message on one line and exits 2."""


class SatbenchError(ValueError):
    """Bad input from a user: a malformed file, impossible counts, an unknown name.

    The message must name what is wrong and where (file, line or field) and what was expected.
    """
