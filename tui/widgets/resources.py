"""One line of what the run costs the machine: CPU and memory of the run's process (every run trains in a
process of its own), and on CUDA the GPU's utilisation and memory and torch's own figures (engine.resources).

Its screen calls tick() on its own timer (the progress line's), so both lines cost one screen update;
it samples once a second (SAMPLE_S, as top does: CPU use over a shorter window mostly shows noise),
only while its screen is shown and the run shown trains: the training loop never pays for it."""
from __future__ import annotations

import time

from textual.widgets import Static

from engine.resources import ResourceSampler, Usage, usage_line

IDLE_TEXT = "cpu/mem: shown while training"
SAMPLE_S = 1.0


class ResourceLine(Static):
    DEFAULT_CSS = "ResourceLine { height: auto; max-height: 4; color: $text-muted; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(IDLE_TEXT, id=id, classes=classes, markup=False)
        self.sampler: ResourceSampler | None = None
        self.sampler_pid: int | None = None
        self.last: Usage | None = None
        self.samples = 0
        self.sampled_at = float("-inf")  # time.monotonic() of the last sample
        self.shown = IDLE_TEXT

    def on_unmount(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
            self.sampler = None

    def run_pid(self) -> int | None:
        """The process of the run shown while it trains (None: canned, finished, or not started yet)."""
        state = getattr(self.app, "run_state", None)
        if state is None or not state.active:
            return None
        return state.pid

    def tick(self) -> None:
        """Sample and show (called by the screen's timer)."""
        if not self.is_mounted or not self.screen.is_current:
            return  # nobody looks: nothing sampled
        pid = self.run_pid()
        if pid is None:
            if self.sampler is not None:
                self._close()
                self.show(IDLE_TEXT if self.last is None else "last sample: " + usage_line(self.last))
            return
        state = getattr(self.app, "run_state", None)
        device = (getattr(state, "device", "") or "cpu") if state is not None else "cpu"
        if self.sampler is None or self.sampler.device != device or self.sampler_pid != pid:
            self._close()
            self.sampler = ResourceSampler(device, pid=pid)
            self.sampler_pid = pid
        elif time.monotonic() - self.sampled_at < SAMPLE_S:
            return
        self.sampled_at = time.monotonic()
        self.last = self.sampler.sample()
        self.samples += 1
        self.show(usage_line(self.last))

    def show(self, text: str) -> None:
        """Update, with a layout only when the number of lines changes (a layout costs the UI thread, and
        so the trainer, far more than the text)."""
        text = fold(text, max(1, self.size.width))
        if text == self.shown:
            return
        layout = text.count("\n") != self.shown.count("\n")
        self.shown = text
        self.update(text, layout=layout)


def fold(text: str, width: int) -> str:
    """Lines of at most `width` cells, broken between the parts of a usage line (two spaces apart)."""
    lines: list[str] = []
    for part in text.split("  "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "  " + part
        else:
            lines.append(part)
    return "\n".join(lines)
