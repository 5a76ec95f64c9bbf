"""The one exception type for a user's mistake: printed as one line, exit code 2."""


class UserError(Exception):
    """A problem with the user's input (a file, a port, a value) and what to do about it.

    The CLI prints ``livegan: error: <message>`` with no traceback and exits with 2.
    Messages name the offending file, port or value and say what to do.
    """

    exit_code = 2
