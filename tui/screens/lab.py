"""Lab screen: pick a stage, read what it teaches, set its hyperparameters, start a run.

Every value is checked as it is typed with the engine's own Key.parse; the whole config
with engine.config.resolve_config, so a bad value is marked and explained (the
ConfigError text) before anything starts. The device choice enables only the devices
torch can use, probed after the first paint.
"""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from engine.config import ConfigError, resolve_config
from engine.stages import STAGES, Stage

PARTS = {"2-ab": "2-ab  the MLP", "2-cd": "2-cd  CNN, CIFAR-10"}


def teaches_renderable(text: str):
    """Prose wraps; equation and table lines (aligned with runs of spaces) never do."""
    from rich.console import Group
    from rich.text import Text

    parts = []
    for line in text.splitlines():
        pre = "  " in line.strip() or line.startswith(("H~", "Y~", "dY~", "dH~", "dW", "loss", "init"))
        parts.append(Text(line, no_wrap=pre, overflow="ellipsis" if pre else "fold",
                          style="" if pre else "italic"))
    return Group(*parts)
DEVICES = ("auto", "cpu", "cuda", "mps")


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def form_rows(stage: Stage, values: dict[str, Any]) -> list:
    """One row per key (label, value, help) and a hidden line for its error."""
    rows: list = []
    for name, spec in stage.keys.items():
        if name == "device":
            continue
        rows.append(Horizontal(
            Label(name, classes="key-label"),
            Input(value_text(values.get(name, "")), id=f"key-{name}", classes="key-input",
                  tooltip=f"{spec.help} ({spec.allowed()})"),
            Static(spec.help, classes="key-help", markup=False),
            classes="key-row"))
        rows.append(Static("", id=f"err-{name}", classes="error key-error", markup=False))
    return rows


class LabScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "start", "Start run", priority=True),
        Binding("ctrl+d", "defaults", "Defaults"),
        Binding("escape", "focus_stages", "Stages", show=False),
        Binding("ctrl+n", "focus_name", "Name", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stage: Stage = next(iter(STAGES.values()))
        self.errors: dict[str, str] = {}
        self.form_error = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="lab"):
            options: list[Option | None] = []
            for part, title in PARTS.items():
                if options:
                    options.append(None)
                options.append(Option(title, id=f"part-{part}", disabled=True))
                for stage in STAGES.values():
                    if stage.part == part:
                        options.append(Option(f"  {stage.id}", id=stage.id))
            yield OptionList(*options, id="stages")
            with VerticalScroll(id="lab-detail"):
                stage = self.stage
                yield Static(f"{stage.id}  ({stage.part})  {stage.title}", id="stage-title", markup=False)
                yield Static(teaches_renderable(stage.teaches), id="teaches")
                yield Vertical(*form_rows(stage, dict(stage.defaults)), id="form")
                with Horizontal(id="device-row"):
                    yield Label("device", classes="key-label")
                    with RadioSet(id="devices"):
                        for name in DEVICES:
                            yield RadioButton(name, id=f"dev-{name}", disabled=name in ("cuda", "mps"))
                yield Static("", id="device-note", classes="hint")
                with Horizontal(classes="key-row"):
                    yield Label("run name", classes="key-label")
                    yield Input(placeholder="(optional)", id="run-name", classes="key-input")
                yield Static("", id="form-error", classes="error")
                with Horizontal(id="lab-buttons"):
                    yield Button("Start  ctrl+r", id="start", variant="success")
                    yield Button("Defaults  ctrl+d", id="defaults")
        yield Footer()

    async def on_mount(self) -> None:
        stages = self.query_one("#stages", OptionList)
        stages.highlighted = stages.get_option_index(self.stage.id)
        stages.focus()
        self.query_one("#device-row").display = self.query_one("#device-note").display = "device" in self.stage.keys
        if "device" in self.stage.keys:
            self._select_device(str(self.stage.defaults.get("device", "auto")))
        app = self.app
        if getattr(app, "devices", None) is not None:
            self.devices_known(app.devices)  # type: ignore[attr-defined]
        # the torch import (seconds) starts only once this screen has painted
        self.call_after_refresh(app.first_paint)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ stage and form
    @on(OptionList.OptionHighlighted, "#stages")
    async def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        sid = event.option.id
        if sid in STAGES and sid != self.stage.id:
            await self.show_stage(STAGES[sid])

    @on(OptionList.OptionSelected, "#stages")
    def _stage_selected(self, event: OptionList.OptionSelected) -> None:
        inputs = self.query(".key-input").results(Input)
        first = next(iter(inputs), None)
        if first is not None:
            first.focus()

    async def show_stage(self, stage: Stage, values: dict[str, Any] | None = None) -> None:
        self.stage = stage
        values = {**stage.defaults, **(values or {})}
        self.query_one("#stage-title", Static).update(f"{stage.id}  ({stage.part})  {stage.title}")
        self.query_one("#teaches", Static).update(teaches_renderable(stage.teaches))
        form = self.query_one("#form", Vertical)
        await form.remove_children()
        rows = form_rows(stage, values)
        await form.mount_all(rows)
        has_device = "device" in stage.keys
        self.query_one("#device-row").display = has_device
        self.query_one("#device-note").display = has_device
        if has_device:
            self._select_device(str(values.get("device", "auto")))
        self.errors = {}
        self._set_form_error("")

    def _set_form_error(self, text: str) -> None:
        self.form_error = text
        self.query_one("#form-error", Static).update(text)

    def _select_device(self, name: str) -> None:
        button = self.query_one(f"#dev-{name}", RadioButton)
        if button.disabled:
            button = self.query_one("#dev-auto", RadioButton)
        button.value = True

    def devices_known(self, devices: dict[str, bool]) -> None:
        for name in DEVICES:
            self.query_one(f"#dev-{name}", RadioButton).disabled = not devices.get(name, False)
        missing = [n for n in ("cuda", "mps") if not devices.get(n)]
        self.query_one("#device-note", Static).update(
            f"not available here: {', '.join(missing)}" if missing else "")

    @on(Input.Changed, ".key-input")
    def _value_changed(self, event: Input.Changed) -> None:
        if not event.input.id or not event.input.id.startswith("key-"):
            return
        name = event.input.id[4:]
        spec = self.stage.keys.get(name)
        if spec is None:
            return
        try:
            spec.parse(event.value)
        except ConfigError as exc:
            self.errors[name] = str(exc)
        else:
            self.errors.pop(name, None)
        self._show_error(name)
        self.validate()

    def _show_error(self, name: str) -> None:
        text = self.errors.get(name, "")
        self.query_one(f"#err-{name}", Static).update(text)
        self.query_one(f"#err-{name}", Static).display = bool(text)
        self.query_one(f"#key-{name}", Input).set_class(bool(text), "-bad")

    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.stage.keys:
            if name == "device":
                pressed = self.query_one("#devices", RadioSet).pressed_button
                out["device"] = str(pressed.label) if pressed is not None else "auto"
            else:
                out[name] = self.query_one(f"#key-{name}", Input).value
        return out

    def validate(self) -> dict[str, Any] | None:
        """The resolved config, or None with the reason shown."""
        if self.errors:
            first = next(iter(self.errors.values()))
            more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            self._set_form_error(first + more)
            return None
        try:
            config = resolve_config(self.stage.id, self.overrides())
        except ConfigError as exc:
            self._set_form_error(str(exc))
            return None
        self._set_form_error("")
        return config

    async def load_config(self, config: dict[str, Any]) -> None:
        stage = STAGES.get(str(config.get("stage")))
        if stage is None:
            self.notify(f"unknown stage {config.get('stage')!r}", severity="error")
            return
        stages = self.query_one("#stages", OptionList)
        self.stage = stage
        stages.highlighted = stages.get_option_index(stage.id)
        await self.show_stage(stage, {k: v for k, v in config.items() if k in stage.keys})

    # ------------------------------------------------------------------ actions
    def action_start(self) -> None:
        for name in list(self.stage.keys):
            if name != "device":
                try:
                    self.stage.keys[name].parse(self.query_one(f"#key-{name}", Input).value)
                except ConfigError as exc:
                    self.errors[name] = str(exc)
                    self._show_error(name)
        config = self.validate()
        if config is None:
            self.notify(self.form_error or "fix the marked values", title="not started", severity="error")
            return
        name = self.query_one("#run-name", Input).value.strip() or None
        self.app.start_run(config, name=name)  # type: ignore[attr-defined]

    async def action_defaults(self) -> None:
        await self.show_stage(self.stage)

    def action_focus_stages(self) -> None:
        self.query_one("#stages", OptionList).focus()

    def action_focus_name(self) -> None:
        self.query_one("#run-name", Input).focus()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#defaults")
    async def _defaults_pressed(self) -> None:
        await self.action_defaults()
