"""One way to draw a study's PNG: matplotlib without a display, a figure of the given size, saved and closed."""

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
