"""matplotlib on the Agg backend, set before anything imports pyplot: figures render with no display
(over SSH, in CI). Figures are built as matplotlib.figure.Figure objects, never through pyplot, so no
global figure state is shared between threads."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after the backend choice)

__all__ = ["Figure", "new_figure"]


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure of width x height inches, with a constrained layout unless told otherwise (a grid of many
    panels lays out several times faster by fixed margins)."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained" if constrained else None)
