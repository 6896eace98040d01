"""Drawing for every wing: matplotlib without a display, a figure of the given size, saved and closed; the loss curve
of a run."""

import contextlib
from pathlib import Path


@contextlib.contextmanager
def figure(path: str | Path, size: tuple[float, float], columns: int = 1):
    """Yield the axes of a new figure (`columns` side by side); on leaving, lay it out, save it to `path` (PNG,
    120 dpi) and free it."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    drawing, axes = plt.subplots(1, columns, figsize=size)
    try:
        yield axes
        drawing.tight_layout()
        drawing.savefig(path, dpi=120)
    finally:
        plt.close(drawing)


def plot_loss_curve(log_history: list[dict], path: str | Path, title: str) -> bool:
    """Training and validation loss against the optimizer step, from the Trainer's `state.log_history`, as a PNG (for
    a user without TensorBoard); False (and no file) when nothing was logged."""
    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry and "step" in entry]
    validation = [(entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry]
    if not train and not validation:
        return False
    with figure(path, (6.0, 4.0)) as axes:
        for points, label, style in ((train, "training loss", "-"), (validation, "validation loss", "o-")):
            if points:
                axes.plot(*zip(*points), style, label=label)
        axes.set_xlabel("optimizer step")
        axes.set_ylabel("loss")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
    return True


def plot_confusion_matrix(confusion: dict, path: str | Path) -> None:
    """A confusion matrix ({"labels": names, "matrix": rows of gold, columns of predicted}) as a PNG, drawn by
    scikit-learn's `ConfusionMatrixDisplay`."""
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    names = confusion["labels"]
    size = 2.5 + 0.6 * len(names)
    with figure(path, (size, size)) as axes:
        display = ConfusionMatrixDisplay(np.asarray(confusion["matrix"]), display_labels=names)
        display.plot(ax=axes, colorbar=False, xticks_rotation=45 if len(names) > 4 else "horizontal")
        axes.set_xlabel("predicted")
        axes.set_ylabel("gold")
