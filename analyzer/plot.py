"""``--plot FILE.svg|png``: each structural figure and compile time against n, log-log.

One panel per figure, one line per case. A program that does not grow is a flat line; the
#606 regression is a straight line of slope 1 (one op per save point). matplotlib is an
optional extra (``pip install '.[plot]'`` in the jaxlint checkout): without it ``--plot`` is refused
before anything runs.
"""

from __future__ import annotations

import os
from typing import Sequence

from .figures import FIGURE_UNITS, STRUCTURAL_FIGURES
from .scale import CaseResult

PLOT_FIGURES = (*STRUCTURAL_FIGURES, "compile_seconds")
PLOT_SUFFIXES = (".svg", ".png")


class PlotError(Exception):
    """``--plot`` cannot be honoured; the message says why in one line."""


def check_plot_path(path: str) -> None:
    """Fail early (before lowering anything) on a bad file name or a missing matplotlib."""
    if not path.lower().endswith(PLOT_SUFFIXES):
        raise PlotError(f"--plot {path}: the file must end in .svg or .png")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise PlotError(f"--plot {path}: folder {folder} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotError(
            "--plot needs matplotlib, an optional extra: pip install '.[plot]' in the jaxlint checkout "
            "(or pip install matplotlib)"
        ) from None


def _size_label(value: float) -> str:
    """1000 -> 1k, 30000 -> 30k, 2500 -> 2.5k (the way sizes are written on the command line)."""
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def write_plot(results: Sequence[CaseResult], path: str) -> list[str]:
    """Draw the panels into ``path``; returns the figures drawn (those with a positive value)."""
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    measured = [r for r in results if r.error is None and r.measurements]
    panels = [
        name
        for name in PLOT_FIGURES
        if any((m.figures.get(name) or 0) > 0 for r in measured for m in r.measurements)
    ]
    if not panels:
        raise PlotError(f"--plot {path}: nothing to draw (no case has a positive figure)")
    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {r.name: palette[i % len(palette)] for i, r in enumerate(measured)}  # one colour per case everywhere
    sizes = sorted({m.n for r in measured for m in r.measurements if m.n})
    for axis, name in zip(axes.flat, panels):
        for result in measured:
            points = [(m.n, m.figures.get(name)) for m in result.measurements]
            points = [(n, v) for n, v in points if n and v is not None and v > 0]  # log axes: positive only
            if points:
                axis.plot([n for n, _ in points], [v for _, v in points], marker="o", label=result.name, color=colors[result.name])
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(sizes)
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _size_label(value)))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title(name)
        axis.set_xlabel("n")
        axis.set_ylabel(FIGURE_UNITS.get(name, ""))
        axis.grid(True, which="both", alpha=0.3)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    handles = {label: handle for axis in axes.flat for handle, label in zip(*axis.get_legend_handles_labels())}
    figure.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(3, len(handles)), fontsize="small")
    figure.tight_layout(rect=(0, 0.04 * ((len(handles) + 2) // 3), 1, 1))
    figure.savefig(path)
    plt.close(figure)
    return panels
