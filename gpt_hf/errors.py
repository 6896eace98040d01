"""What the user must fix, as types: bad arguments, bad data, unusable output paths, failed uploads. The command line
(`cli.run_main`) turns exactly these into one `error:` line and their exit code (2; 1 for a failed upload); any other
exception is a bug and keeps its traceback, wherever it is raised. A run stopped on purpose (a preemption signal) is
`RunStopped`, with its own exit code.

Each type also derives from the built-in exception a caller would catch for it (`ValueError` for values, `OSError`
for paths), so code written against those keeps working.
"""

import contextlib


class UserError(Exception):
    """Something only the user can fix. The message names what is wrong, the value, and what to do."""

    exit_code = 2  # argparse's code for bad arguments


class ArgumentError(UserError, ValueError):
    """A flag's value, or a combination of flags, that cannot run."""


class DataError(UserError, ValueError):
    """Input data that cannot be used as it is: a file, a row, a column, a label."""


class OutputPathError(UserError, OSError):
    """A path that cannot hold the output: a file in the way, no permission, a full disk."""


class HubUploadError(UserError, RuntimeError):
    """An upload failed (credentials, the Hub, the network); the message says what to check, and the built folder is
    left in place. Exit code 1: the input was fine, the upload was not."""

    exit_code = 1


@contextlib.contextmanager
def argument_errors(prefix: str = "", error_type: type[UserError] = ArgumentError):
    """Inside the block, a plain `ValueError` is an `ArgumentError` (or `error_type`; its message after `prefix`): for
    checks gpt_hf calls but cannot make raise its types, transformers' argument parsing, the config's own validation
    (the remote-code config file imports only torch and transformers) and the checks of task types registered from
    outside (a `DataError`). gpt_hf's own errors pass through unchanged."""
    try:
        yield
    except UserError:
        raise
    except ValueError as err:
        raise error_type(f"{prefix}{err}") from err


def check_at_least_one(arguments, *names: str) -> None:
    """Each named field of `arguments` (a dataclass of flags) is None (unset) or at least 1."""
    for name in names:
        value = getattr(arguments, name)
        if value is not None and value < 1:
            raise ArgumentError(f"--{name} must be >= 1, got {value}.")


def check_fraction(value: float, flag: str) -> None:
    """A share of the data: strictly between 0 and 1."""
    if not 0.0 < value < 1.0:
        raise ArgumentError(f"{flag} must be in (0, 1), got {value}.")


class RunStopped(Exception):
    """A run that stopped early on purpose (SIGTERM from a scheduler, Ctrl-C) after saving a complete checkpoint.
    Not a failure: `exit_code` follows the shell's 128 + signal number (143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
