"""Run transformers' own ModelTesterMixin (from the source distribution of the installed transformers) against gpt_hf
and, on the same tiny config, against transformers' GPT-2; write the outcome of every test for both and the tests
where they differ.

    python tests/transformers_suite/run.py [--output_dir DIR] [--sdist PATH] [-- PYTEST_ARGS]

The sdist is fetched with pip from the package index (or given with --sdist). Its `tests/` folder holds
`test_modeling_common.py` but not the generation and export mixins it imports (they live in transformers' repository
only): they are replaced by empty classes here, and gpt_hf's generation checks are tests/test_generation.py.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from pathlib import Path

import transformers

HERE = Path(__file__).resolve().parent
STUBS = {
    "exporters/test_export.py": 'class ExportTesterMixin:\n    """Not in transformers\' sdist: no export tests."""\n',
    "generation/test_utils.py": (
        'class GenerationTesterMixin:\n    """Not in transformers\' sdist: gpt_hf\'s generation checks are '
        'tests/test_generation.py."""\n'
    ),
}


def fetch_sdist(version: str, cache: Path) -> Path:
    """transformers' source distribution of `version`, downloaded once into `cache`."""
    found = sorted(cache.glob(f"transformers-{version}.tar.gz"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"transformers=={version}",
            "-d",
            str(cache),
        ],
        check=True,
    )
    return cache / f"transformers-{version}.tar.gz"


def assemble(sdist: Path, version: str, target: Path) -> Path:
    """A package with the sdist's test_modeling_common.py, the two stub mixins and our testers."""
    package = target / "transformers_common_tests"
    package.mkdir()
    with tarfile.open(sdist) as archive:
        member = archive.getmember(f"transformers-{version}/tests/test_modeling_common.py")
        (package / "test_modeling_common.py").write_bytes(archive.extractfile(member).read())
    for relative, text in STUBS.items():
        (package / relative).parent.mkdir(exist_ok=True)
        (package / relative).write_text(text)
    for folder in (package, package / "exporters", package / "generation"):
        (folder / "__init__.py").touch()
    shutil.copy(HERE / "common_testers.py", package / "test_gpt_hf_common.py")
    return package


RANK = {"passed": 0, "skipped": 1, "failed": 2}  # a test with subtests reports its worst outcome


def outcomes(junit_xml: Path) -> dict[str, dict[str, str]]:
    """test name -> {test class -> passed / failed: first message / skipped: reason}."""
    table = defaultdict(dict)
    for case in ElementTree.parse(junit_xml).iter("testcase"):
        for child in [*case] or [None]:
            if child is None or child.tag not in ("failure", "error", "skipped"):
                result = "passed"
            else:
                kind = "skipped" if child.tag == "skipped" else "failed"
                result = f"{kind}: " + ((child.get("message") or "").splitlines() or [""])[0][:160]
            cls = case.get("classname").rsplit(".", 1)[-1]
            earlier = table[case.get("name")].get(cls, "passed")
            if RANK[result.split(":")[0]] >= RANK[earlier.split(":")[0]]:
                table[case.get("name")][cls] = result
    return dict(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="outputs/transformers_suite")
    parser.add_argument("--sdist", default=None, help="transformers' .tar.gz (default: fetched with pip)")
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    version = transformers.__version__
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    sdist = Path(args.sdist) if args.sdist else fetch_sdist(version, Path(".cache") / "transformers-sdist")
    with tempfile.TemporaryDirectory() as tmp:
        package = assemble(sdist, version, Path(tmp))
        junit = output / "junit.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                tmp,
                f"--junitxml={junit}",
                str(package / "test_gpt_hf_common.py"),
                *pytest_args,
            ],
            cwd=tmp,
        )
    table = outcomes(junit)
    summary = {
        name: Counter(result.split(":")[0] for tests in table.values() for cls, result in tests.items() if cls == name)
        for name in sorted({cls for tests in table.values() for cls in tests})
    }
    differing = {
        test: results for test, results in sorted(table.items()) if len({r.split(":")[0] for r in results.values()}) > 1
    }
    (output / "results.json").write_text(
        json.dumps({"transformers": version, "summary": summary, "differing": differing, "all": table}, indent=1)
    )
    lines = [
        f"# transformers {version}: ModelTesterMixin on gpt_hf and GPT-2",
        "",
        "| test class | passed | failed | skipped |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {c['passed']} | {c['failed']} | {c['skipped']} |" for name, c in summary.items()]
    lines += ["", "## Tests whose outcome differs between the classes", ""]
    for test, results in differing.items():
        lines.append(f"- `{test}`: " + "; ".join(f"{cls}: {result}" for cls, result in sorted(results.items())))
    (output / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    failed = any(c["failed"] for name, c in summary.items() if name.startswith("GPTHF"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
