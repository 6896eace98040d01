"""The built-in corpus: English documentation that ships with every Python (the `pydoc` topics and the standard
library's docstrings), so the demo, the tests and the self-labelled tasks run offline with no download. Extracted
once per Python and cached on disk (`GPT_HF_CACHE`, default ~/.cache/gpt_hf), each document with its source (a pydoc
topic, or the module's path below the standard library: the topic task's labels). Imports no other gpt_hf module.
"""

import ast
import functools
import hashlib
import json
import os
import sys
import sysconfig
from pathlib import Path

_SKIPPED_STDLIB_PARTS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "lib2to3"}


def builtin_corpus(min_chars: int = 200) -> list[str]:
    """English documentation that ships with every Python: the `pydoc` topics and the standard library's docstrings.

    Extracted deterministically (sorted files, `ast` parsing, no imports), de-duplicated, one document per pydoc
    topic and per module (its docstrings in source order). Works offline; cached per process.
    """
    return [text for _, text in _builtin_corpus(min_chars)]


def builtin_corpus_sources(min_chars: int = 200) -> list[tuple[str, str]]:
    """The built-in corpus as (source, document): 'pydoc/<topic>', or the module's path below the standard library
    ('email/mime/text.py'), in the order of `builtin_corpus`."""
    return list(_builtin_corpus(min_chars))


@functools.lru_cache(maxsize=4)
def _builtin_corpus(min_chars: int) -> tuple[tuple[str, str], ...]:
    """Read the extraction from the on-disk cache, or extract (~7 s on 2 cores) and cache it atomically."""
    stdlib = sysconfig.get_paths()["stdlib"]
    key = hashlib.sha1(f"v2|{sys.version}|{stdlib}|{min_chars}".encode()).hexdigest()[:16]  # v2: with sources
    cache_dir = Path(os.environ.get("GPT_HF_CACHE", Path.home() / ".cache" / "gpt_hf"))
    cache_file = cache_dir / f"builtin-corpus-{key}.json"
    try:
        return tuple(map(tuple, json.loads(cache_file.read_text(encoding="utf-8"))))
    except (OSError, ValueError):
        pass
    documents = _extract_builtin_corpus(Path(stdlib), min_chars, with_sources=True)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        staging.write_text(json.dumps(documents), encoding="utf-8")
        staging.replace(cache_file)
    except OSError:  # a read-only home: extract every time
        pass
    return tuple(documents)


def _extract_builtin_corpus(stdlib: Path, min_chars: int, with_sources: bool = False) -> list:
    """The documents (with their sources when `with_sources`), in a fixed order."""
    from pydoc_data.topics import topics

    documents, seen = [], set()

    def add(source: str, text: str):
        text = text.strip()
        if len(text) >= min_chars and text not in seen:
            seen.add(text)
            documents.append((source, text) if with_sources else text)

    for name in sorted(topics):
        add(f"pydoc/{name}", topics[name])
    for path in sorted(stdlib.rglob("*.py")):
        if _SKIPPED_STDLIB_PARTS & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue
        parts = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node, clean=True)
                if docstring and docstring not in seen:
                    seen.add(docstring)
                    parts.append(docstring)
        add(path.relative_to(stdlib).as_posix(), "\n\n".join(parts))
    return documents
