"""The one exception type that reaches users as a one-line message (the CLI prints it, exits 2)."""


class UserError(Exception):
    """Something the user can fix: a bad file, key, value or run directory. The message says what and how."""


class DifferentRunError(UserError):
    """The run directory holds a run of another config (a script may start it again; other errors it must not)."""
