"""Does pre-training pay off, task by task: the data-efficiency studies of docs/results.md ("Pre-training vs the
alternatives") side by side. Reads each study's results.csv (scripts/data_efficiency.py), prints one Markdown table
(mean ± standard error over seeds, and the paired differences) and draws accuracy against labels per study.

    python benchmarks/payoff.py outputs/payoff/acceptability outputs/payoff/next_sentence outputs/payoff/topic \
        outputs/payoff/topic-other-domain --plot docs/payoff.png
"""

import argparse
import csv
import statistics
from pathlib import Path

from gpt_hf.output.plotting import figure
from gpt_hf.studies.data_efficiency import METHODS, draw_scores, paired_differences, summarise


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv", newline="", encoding="utf-8") as handle:
        return [{**row, "labels": int(row["labels"]), "score": float(row["score"])} for row in csv.DictReader(handle)]


def mean_and_error(values: list[float]) -> str:
    error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):+.1f} ± {100 * error:.1f}"


def table(studies: dict[str, list[dict]]) -> str:
    lines = [
        "| study | labels | seeds | pre-trained | from scratch | TF-IDF + LR | pre − scratch | pre − TF-IDF |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in studies.items():
        for count in sorted({row["labels"] for row in rows}):
            scores = {m: [r["score"] for r in rows if r["labels"] == count and r["method"] == m] for m in METHODS}
            cells = [mean_and_error(scores[m]).lstrip("+") if scores[m] else "n/a" for m in METHODS]
            gains = [paired_differences(rows, count, METHODS[0], other) for other in METHODS[1:]]
            lines.append(
                f"| {name} | {count} | {len(scores[METHODS[0]])} | "
                + " | ".join(cells)
                + " | "
                + " | ".join(mean_and_error(g) if g else "n/a" for g in gains)
                + " |"
            )
    return "\n".join(lines)


def plot(studies: dict[str, list[dict]], path: Path) -> None:
    with figure(path, (4.4 * len(studies), 3.8), columns=len(studies)) as axes:
        for axis, (name, rows) in zip(axes if len(studies) > 1 else [axes], studies.items()):
            counts = sorted({row["labels"] for row in rows})
            draw_scores(axis, summarise(rows), METHODS, counts, "accuracy", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="Study output folders (results.csv each).")
    parser.add_argument("--plot", type=Path, help="Where to draw the accuracy-vs-labels figure (PNG).")
    args = parser.parse_args()
    studies = {folder.name: read_rows(folder) for folder in args.folders}
    print(table(studies))
    if args.plot:
        plot(studies, args.plot)


if __name__ == "__main__":
    main()
