"""What the user must fix, as types: bad arguments, bad data, unusable output paths, failed uploads. The command line
(`cli.run_main`) turns exactly these into one `error:` line and exit code 2; any other exception is a bug and keeps
its traceback. A run stopped on purpose (a preemption signal) is `RunStopped`, with its own exit code.

Each type also derives from the built-in exception a caller would catch for it (`ValueError` for values, `OSError`
for paths), so code written against those keeps working.
"""


class UserError(Exception):
    """Something only the user can fix. The message names what is wrong, the value, and what to do."""


class ArgumentError(UserError, ValueError):
    """A flag's value, or a combination of flags, that cannot run."""


class DataError(UserError, ValueError):
    """Input data that cannot be used as it is: a file, a row, a column, a label."""


class OutputPathError(UserError, OSError):
    """A path that cannot hold the output: a file in the way, no permission, a full disk."""


class RunStopped(Exception):
    """A run that stopped early on purpose (SIGTERM from a scheduler, Ctrl-C) after saving a complete checkpoint.
    Not a failure: `exit_code` follows the shell's 128 + signal number (143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
