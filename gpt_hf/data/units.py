"""How text files are read as documents: the unit of a plain-text file (paragraph, line, whole file, or the text
between separators), the same for every file or per glob (`--document_unit 'kjv.txt=line'`), and the reader of each
file type (`file_reading`); `DocumentArguments`, the flags of every script that reads text files."""

import codecs
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArgumentError

FILE_BUILDERS = {
    ".txt": "text",
    ".text": "text",
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}


# What one document is in a plain-text file -> datasets' text builder `sample_by`. JSON / CSV / parquet rows are
# documents as they are. A --document_separator string overrides the unit.
DOCUMENT_UNITS = {"paragraph": "paragraph", "line": "line", "file": "document"}


def decode_separator(value: str) -> str:
    """A separator as typed on a command line: backslash escapes (\\n, \\t, \\u2028) are read as the characters."""
    separator = read_escapes(value, "--document_separator")
    if not separator:
        raise ArgumentError("--document_separator is empty; leave it out, or give the text between documents.")
    return separator


def read_escapes(value: str, flag: str) -> str:
    """Text typed on a command line with backslash escapes (\\n, \\t, \\u2028) read as the characters they name."""
    try:
        return codecs.decode(value.encode("latin-1", "backslashreplace"), "unicode_escape")
    except UnicodeDecodeError as err:
        raise ArgumentError(f"{flag} {value!r} has a broken backslash escape ({err.reason}).") from None


@dataclass(kw_only=True)
class DocumentArguments:
    """How plain-text files are cut into documents; every argument dataclass that reads text files extends it."""

    document_unit: list[str] = field(
        default_factory=lambda: ["paragraph"],
        metadata={
            "help": f"What one document is in .txt files: {tuple(DOCUMENT_UNITS)} (paragraph: text between blank "
            "lines), for every file; and for the files a glob matches, GLOB=UNIT, where UNIT may also be "
            "sep:TEXT (the text between documents, backslash escapes read), e.g. --document_unit paragraph "
            "'kjv.txt=line' 'quotes.txt=sep:\\n%%\\n'. Rows of json / csv / parquet files are documents; "
            "file types may be mixed. Documents are joined with <|endoftext|> and a validation split takes "
            "whole documents."
        },
    )
    document_separator: str | None = field(
        default=None,
        metadata={
            "help": "Text between documents in .txt files, e.g. '\\n%%\\n' (fortune files); "
            "backslash escapes are read. Overrides --document_unit's unit for every file (not a GLOB=UNIT)."
        },
    )

    def __post_init__(self):
        if isinstance(self.document_unit, str):  # a recipe's or a caller's single unit
            self.document_unit = [self.document_unit]
        self._default_unit, self._file_rules = parse_document_units(self.document_unit)
        if self.document_separator is not None:
            self.document_separator = decode_separator(self.document_separator)

    @property
    def document_options(self) -> dict:
        """Keyword arguments for `load_text_dataset`, `load_text_stream` and `iter_documents`."""
        return {
            "document_unit": self._default_unit,
            "document_separator": self.document_separator,
            "file_rules": self._file_rules,
        }


def parse_document_units(entries: list[str]) -> tuple[str, tuple[tuple[str, str | None, str | None], ...]]:
    """`--document_unit` entries -> (the unit of every .txt file, ((glob, unit, separator), ...) for the files a glob
    matches, first match first). A unit is paragraph / line / file; `sep:TEXT` gives the text between documents."""
    default, rules = None, []
    for entry in entries:
        glob_pattern, _, unit = entry.rpartition("=") if "=" in entry.split("sep:", 1)[0] else ("", "", entry)
        separator = None
        if unit.startswith("sep:"):
            separator, unit = decode_separator(unit[len("sep:") :]), None
        elif unit not in DOCUMENT_UNITS:
            what = f"{entry!r}: {unit!r}" if glob_pattern else repr(unit)
            raise ArgumentError(
                f"--document_unit {what} is not one of {tuple(DOCUMENT_UNITS)} or sep:TEXT; give a unit for every "
                "file, or GLOB=UNIT for the files a glob matches."
            )
        if glob_pattern:
            rules.append((glob_pattern, unit, separator))
        elif default is not None or separator is not None:
            raise ArgumentError(
                f"--document_unit {entry!r}: one unit without a glob sets every file's (paragraph, line or file; a "
                "separator for every file is --document_separator); give the others as GLOB=UNIT."
            )
        else:
            default = unit
    return default or "paragraph", tuple(rules)


def file_reading(
    path, document_unit: str, document_separator: str | None, file_rules=()
) -> tuple[str, str, str | None]:
    """How one file is read: (datasets builder, unit, separator). A plain-text file takes the first GLOB=UNIT rule whose
    glob matches its path (or its name), else the unit (or separator) of every file; other types read rows."""
    path = Path(path)
    builder = FILE_BUILDERS.get(path.suffix.lower())
    if builder != "text":
        return builder, "", None
    for glob_pattern, unit, separator in file_rules:
        if fnmatch.fnmatch(str(path), glob_pattern) or fnmatch.fnmatch(path.name, glob_pattern):
            return "text", unit or "paragraph", separator
    return "text", document_unit, document_separator


UNIT_SEPARATORS = {"paragraph": "\n\n", "line": "\n", "file": None}
