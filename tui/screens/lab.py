"""Lab screen: pick a stage, read what it teaches, set its hyperparameters, start a run.

Every value is checked as it is typed with the engine's own Key.parse; the whole config
with engine.stages.resolve_config, so a bad value is marked and explained (the
ConfigError text) before anything starts. The device choice enables only the devices
torch can use, probed after the first paint.
"""
from __future__ import annotations

import os
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Header, Input, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from engine.config import ConfigError, inapplicable
from engine.data.catalog import DOWNLOADABLE, presence
from engine.gpus import GpuInfo, pick_gpu
from engine.lab_questions import questions
from engine.precheck import precheck
from engine.stages import STAGES, Stage, resolve_config
from tui.keymap import LAB
from tui.screens.home_focus import HomeFocusScreen
from tui.widgets.key_scroll import KeyScroll

PARTS = {"2-ab": "2-ab  the MLP", "2-cd": "2-cd  CNN, CIFAR-10"}


def teaches_renderable(text: str):
    """Prose wraps; equation and table lines (aligned with runs of spaces) never do."""
    parts = []
    for line in text.splitlines():
        pre = "  " in line.strip() or line.startswith(("H~", "Y~", "dY~", "dH~", "dW", "loss", "init"))
        parts.append(Text(line, no_wrap=pre, overflow="ellipsis" if pre else "fold",
                          style="" if pre else "italic"))
    return Group(*parts)


def questions_renderable(stage: Stage):
    """The lab's questions that this stage's views answer, one line each, where the teaching text was."""
    lines = questions(stage.id)
    head = Text(f"Lab questions these views answer ({len(lines)}; ctrl+l: back to the stage's text)", style="bold")
    if not lines:
        return Group(head, Text("none for this stage: it has no training steps to look inside", style="italic"))
    return Group(head, *(Text(f"- {line}", overflow="fold") for line in lines))


DEVICES = ("auto", "cpu", "cuda", "mps")
SWITCHES = ("optimizer", "scheduler", "kernel")  # the keys that decide whether others apply


def device_id(device: str) -> str:
    """A device name as a widget id (cuda:1 -> cuda-1)."""
    return device.replace(":", "-")
NAME_HELP = "optional: shown in History instead of the run id"
ACTIONS = ("[@click=screen.start][b reverse $success] \u25b6 Start run [/][/] ctrl+r   "
           "[@click=screen.queue][reverse] Queue [/][/] ctrl+e   "
           "[@click=screen.defaults][reverse] Defaults [/][/] ctrl+o")
STAGES_HINT = "up/down: pick a stage   enter: edit its values   ctrl+r: start   ? all keys"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def form_keys(stage: Stage) -> list[str]:
    """The keys with a text field (the device has its own radio row)."""
    return [name for name in stage.keys if name != "device"]


def key_input(stage: Stage, name: str, value: Any) -> Input:
    """A key's text field; a key with a list of values (the stage's data sets, an optimizer...) completes what
    is typed from that list (right arrow or End takes the suggestion)."""
    spec = stage.keys[name]
    suggester = SuggestFromList(spec.choices, case_sensitive=False) if spec.kind in ("choice", "dataset") else None
    return Input(value_text(value), id=f"key-{name}", classes="key-input", tooltip=f"{spec.help} ({spec.allowed()})",
                 suggester=suggester)


class LabScreen(HomeFocusScreen):
    """The form is three columns that line up row by row: one Static with the key names, one
    Input per key, one Static with each key's help (or, in red, its error). The focused key's
    full help and any error show in a line docked under the form, always in view. Few widgets
    (one per key, not five) keep the first paint and stage switches fast."""

    SUB_TITLE = "1 Lab: pick a stage, set its values, start"
    HOME = "#stages"
    BINDINGS = LAB

    def __init__(self) -> None:
        super().__init__()
        self.stage: Stage = next(iter(STAGES.values()))
        self.errors: dict[str, str] = {}
        self.form_error = ""
        self.focused_key: str | None = None
        self._enter_pending = False  # Enter on a stage before the value fields were built
        self._start_pending = ""  # "start" or "queue": ctrl+r / ctrl+e before the value fields were built
        self._built: dict[str, str] = {}  # the text each field was built with (its first Changed is no edit)
        self.gpus: list[GpuInfo] = []
        self.showing_questions = False  # ctrl+l: the teaching text gives way to the lab questions

    def compose(self) -> ComposeResult:
        stage = self.stage
        yield Header()
        with Horizontal(id="lab"):
            options: list[Option | None] = []
            for part, title in PARTS.items():
                if options:
                    options.append(None)
                options.append(Option(title, id=f"part-{part}", disabled=True))
                for s in STAGES.values():
                    if s.part == part:
                        options.append(Option(f"  {s.id}", id=s.id))
            yield OptionList(*options, id="stages")
            with Vertical(id="lab-detail"):
                with KeyScroll(id="lab-scroll"):
                    yield Static(f"{stage.id}  ({stage.part})  {stage.title}", id="stage-title", markup=False)
                    yield Static(self._teaching(stage), id="teaches")
                    values = dict(stage.defaults)
                    self._built = {k: value_text(values.get(k, "")) for k in form_keys(stage)}
                    with Horizontal(id="form"):
                        yield Static(id="form-labels")
                        with Vertical(id="form-inputs"):
                            # the values as plain text until the fields are built, right after the first paint
                            yield Static("\n".join(self._built.values()), id="form-skeleton", markup=False)
                            yield Input(placeholder="(optional)", id="run-name", classes="name-input",
                                        tooltip=NAME_HELP)
                        yield Static(id="form-help")
                    has_device = "device" in stage.keys
                    with Horizontal(id="device-row", classes="" if has_device else "hidden"):
                        yield Static("device", classes="key-label")
                        with RadioSet(id="devices"):
                            for name in DEVICES:
                                yield RadioButton(name, id=f"dev-{name}", disabled=name in ("cuda", "mps"),
                                                  value=name == str(values.get("device", "auto")))
                    yield Static("", id="device-note", classes="hint" if has_device else "hint hidden")
                    yield Static(ACTIONS, id="lab-actions")  # clickable, like the footer keys
                yield Static(STAGES_HINT, id="key-note")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        stages = self.query_one("#stages", OptionList)
        stages.highlighted = stages.get_option_index(self.stage.id)
        stages.focus()
        self._draw_columns()
        app = self.app
        if getattr(app, "devices", None) is not None:
            self.devices_known(app.devices)  # type: ignore[attr-defined]
        # the torch import (seconds) starts only once this screen has painted, and the fields are
        # built then too: the first paint shows the form as text (one widget instead of one per key)
        self.call_after_refresh(app.first_paint)  # type: ignore[attr-defined]
        self.call_after_refresh(self._build_fields)

    @property
    def form_ready(self) -> bool:
        """True once the value fields exist (just after the first paint)."""
        return not self.query("#form-skeleton") and bool(self.query(".key-input"))

    async def _build_fields(self) -> None:
        if self.query("#form-skeleton"):  # (a stage switch may have built the fields already)
            pressed = self.query_one("#devices", RadioSet).pressed_button
            device = {"device": str(pressed.label)} if pressed is not None else {}
            await self.show_stage(self.stage, {**self._built, **device})


    # ------------------------------------------------------------------ stage and form
    @on(OptionList.OptionHighlighted, "#stages")
    async def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        sid = event.option.id
        if sid in STAGES and sid != self.stage.id:
            await self.show_stage(STAGES[sid])

    @on(OptionList.OptionSelected, "#stages")
    def _stage_selected(self, event: OptionList.OptionSelected) -> None:
        # while the fields are not there (the first paint shows the form as text; a stage switch removes the
        # old fields before it mounts the new ones) the Enter is kept, and show_stage honours it
        self._enter_pending = not self._focus_first_field()

    def _focus_first_field(self) -> bool:
        first = next(iter(self.query(".key-input").results(Input)), None)
        if first is None or not first.is_mounted:
            return False
        first.focus()
        return True

    async def show_stage(self, stage: Stage, values: dict[str, Any] | None = None) -> None:
        old_keys = form_keys(self.stage) if self.is_mounted else []
        self.stage = stage
        values = {**stage.defaults, **(values or {})}
        self.query_one("#stage-title", Static).update(f"{stage.id}  ({stage.part})  {stage.title}")
        self.query_one("#teaches", Static).update(self._teaching(stage))
        keys = form_keys(stage)
        self._built = {k: value_text(values.get(k, "")) for k in keys}
        self.errors = {}
        if keys == old_keys and self.form_ready:
            for name in keys:  # same fields (the circles-* stages): only the values change
                self.query_one(f"#key-{name}", Input).value = self._built[name]
        else:
            inputs = self.query_one("#form-inputs", Vertical)
            await self.query(".key-input, #form-skeleton").remove()
            await inputs.mount_all([key_input(stage, k, values.get(k, "")) for k in keys],
                                   before=self.query_one("#run-name"))
        has_device = "device" in stage.keys
        self.query_one("#device-row").set_class(not has_device, "hidden")
        self.query_one("#device-note").set_class(not has_device, "hidden")
        if has_device:
            self._select_device(str(values.get("device", "auto")))
        self._check_all()
        if self._enter_pending and self._focus_first_field():  # an Enter that came while the fields were built
            self._enter_pending = False
        if self._start_pending:  # ctrl+r (ctrl+e) that came while the fields were built
            pending, self._start_pending = self._start_pending, ""
            self.call_after_refresh(self._start, pending == "queue")

    def _check_all(self) -> None:
        """Check every field (no events: the Changed of a freshly built field is skipped)."""
        self.errors = {}
        for name in form_keys(self.stage):
            try:
                self.stage.keys[name].parse(self.query_one(f"#key-{name}", Input).value)
            except ConfigError as exc:
                self.errors[name] = str(exc)
        for inp in self.query(".key-input").results(Input):
            inp.set_class(inp.id[4:] in self.errors, "-bad")  # type: ignore[index]
        self.validate()
        self._draw_columns()

    def not_applying(self) -> dict[str, str]:
        """The form's keys that do nothing with its other values (momentum with optimizer=sgd ...), each with
        the condition under which it would (engine.config.inapplicable)."""
        values: dict[str, Any] = {}
        for name in self.stage.keys:
            found = self.query(f"#key-{name}")
            if found:
                values[name] = str(found.first(Input).value).strip().lower()
            elif name in self._built:
                values[name] = self._built[name].strip().lower()
        return inapplicable(values)

    def _draw_columns(self) -> None:
        """The key names (the focused one marked) and the help-or-error column; a key that does not apply with
        the other values is dimmed, its field disabled, and its help says when it would."""
        keys = form_keys(self.stage)
        skip = self.not_applying()
        for field in self.query(".key-input").results(Input):
            key = (field.id or "")[4:]
            field.disabled = key in skip
        names = []
        helps = []
        for name in keys:
            focused = name == self.focused_key
            if name in skip:
                names.append((name + "\n", "$text-disabled"))
                helps.append(("n/a: " + skip[name] + "\n", "$text-disabled"))
                continue
            names.append((name + "\n", "bold reverse" if focused else ""))
            if name in self.errors:
                error = self.errors[name]
                short = error[error.index("(allowed:") + 1:].rstrip(")") if "(allowed:" in error else error
                helps.append(("\u2717 " + short + "\n", "$error bold"))
            else:
                helps.append((self.stage.keys[name].help + "\n", ""))
        focused = self.focused_key == "run name"
        names.append(("run name", "bold reverse" if focused else ""))
        helps.append((NAME_HELP, ""))
        self.query_one("#form-labels", Static).update(Content.assemble(*names))
        self.query_one("#form-help", Static).update(Content.assemble(*helps))

    def _draw_note(self) -> None:
        """The line under the form: the focused key's help or error, then what keeps the run from starting."""
        name = self.focused_key
        parts: list[Any] = []
        if name == "run name":
            parts.append(("run name: " + NAME_HELP, "$text-muted"))
        elif name == "device":
            parts.append(("device: where to train (left/right, enter); only what torch can use here is enabled",
                          "$text-muted"))
        elif name is None or name not in self.stage.keys:
            parts.append((STAGES_HINT, "$text-muted"))
        elif name in self.errors:
            parts.append((self.errors[name], "$error bold"))
        else:
            spec = self.stage.keys[name]
            parts += [(name, "bold"), (f": {spec.help}.  allowed: {spec.allowed()}", "$text-muted")]
        if self.form_error and not (name in self.errors and self.form_error.startswith(self.errors[name])):
            parts.append(("\nnot ready: " + self.form_error, "$error bold"))
        data = self.data_presence()
        if data:
            parts.append(("\n" + data, "$warning"))
        self.query_one("#key-note", Static).update(Content.assemble(*parts))

    def data_presence(self) -> str:
        """For a downloadable data set (mnist, fashion-mnist, cifar10) in the dataset field: whether its files are
        in the data dir and, if not, how to get them (file existence only: engine.data.catalog.presence)."""
        found = self.query("#key-dataset")
        value = found.first(Input).value.strip().lower() if found else str(self.stage.defaults.get("dataset", ""))
        if value not in DOWNLOADABLE:
            return ""
        seen = presence(getattr(self.app, "data_dir", "datasets")).get(value)
        if seen is None or seen.state == "present":
            return ""
        what = "missing" if seen.state == "missing" else f"incomplete (no {', '.join(seen.missing)})"
        folder = str(seen.folder)
        shown = os.path.relpath(folder) if not os.path.relpath(folder).startswith("..") else folder
        return f"{value}: {what} in {shown}; {seen.hint}"

    def on_descendant_focus(self, event) -> None:
        widget = event.widget
        wid = widget.id or ""
        key = wid[4:] if wid.startswith("key-") else "run name" if wid == "run-name" else \
            "device" if wid == "devices" else None
        if key != self.focused_key:
            self.focused_key = key
            self._draw_columns()
            self._draw_note()

    def _set_form_error(self, text: str) -> None:
        if text == self.form_error:
            return
        self.form_error = text
        self._draw_note()

    def _select_device(self, name: str) -> None:
        found = self.query(f"#dev-{device_id(name)}")
        button = found.first(RadioButton) if found else None
        if button is None or button.disabled:
            button = self.query_one("#dev-auto", RadioButton)
        button.value = True

    def devices_known(self, devices: dict[str, bool]) -> None:
        for name in DEVICES:
            self.query_one(f"#dev-{name}", RadioButton).disabled = not devices.get(name, False)
        self.gpus_known(getattr(self.app, "gpus", []))

    def gpus_known(self, gpus: list[GpuInfo]) -> None:
        """Each GPU of the box (refreshed every few seconds from NVML): a button per GPU where there are
        several (cuda alone takes the least busy one), and a line each: name, memory, utilisation, processes."""
        self.gpus = list(gpus)
        radios = self.query_one("#devices", RadioSet)
        if len(gpus) > 1:
            for gpu in gpus:
                if not self.query(f"#dev-{device_id(gpu.device)}"):
                    radios.mount(RadioButton(gpu.device, id=f"dev-{device_id(gpu.device)}"))
        devices = getattr(self.app, "devices", None) or {}
        missing = [n for n in ("cuda", "mps") if not devices.get(n)]
        lines = [gpu.line() for gpu in gpus]
        if missing and devices:
            lines.append(f"not available here: {', '.join(missing)}")
        if gpus:
            lines.append(f"cuda / auto: the least busy GPU now, {gpus[pick_gpu(gpus)].device}")
        self.query_one("#device-note", Static).update("\n".join(lines))

    @on(Input.Changed, ".key-input")
    def _value_changed(self, event: Input.Changed) -> None:
        if not event.input.id or not event.input.id.startswith("key-"):
            return
        name = event.input.id[4:]
        spec = self.stage.keys.get(name)
        if spec is None:
            return
        if name in SWITCHES:  # optimizer, scheduler, kernel: which other keys apply may change
            self._draw_columns()
        if name == "dataset":
            self._draw_note()  # present or missing, and how to get it
        if self._built.get(name) == event.value:  # the field as built (already checked), not an edit
            return
        self._built.pop(name, None)
        had = self.errors.get(name)
        try:
            spec.parse(event.value)
        except ConfigError as exc:
            self.errors[name] = str(exc)
        else:
            self.errors.pop(name, None)
        if self.errors.get(name) != had:
            self._show_error(name)
        self.validate()

    def _show_error(self, name: str) -> None:
        self.query_one(f"#key-{name}", Input).set_class(name in self.errors, "-bad")
        self._draw_columns()
        if name == self.focused_key:
            self._draw_note()

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
            precheck(config)  # the data's own limits (batch size, a .mat file), as the run would find them
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
        await self.show_stage(stage, {k: v for k, v in config.items() if k in stage.keys})
        stages.highlighted = stages.get_option_index(stage.id)

    # ------------------------------------------------------------------ actions
    def _teaching(self, stage: Stage):
        return questions_renderable(stage) if self.showing_questions else teaches_renderable(stage.teaches)

    def action_questions(self) -> None:
        """Show the lab questions this stage's views answer in place of its teaching text, or back."""
        self.showing_questions = not self.showing_questions
        self.query_one("#teaches", Static).update(self._teaching(self.stage))
        self.query_one("#lab-scroll").scroll_home(animate=False)

    def action_start(self) -> None:
        self._start(queue=False)

    def action_queue(self) -> None:
        self._start(queue=True)

    def _start(self, queue: bool) -> None:
        if not self.form_ready:  # the fields are being built (just after the first paint): start once they are
            self._start_pending = "queue" if queue else "start"
            return
        self._check_all()
        config = self.validate()
        if config is None:
            self.notify(self.form_error or "fix the marked values", title="not started", severity="error")
            return
        name = self.query_one("#run-name", Input).value.strip() or None
        if queue:
            self.app.queue_run(config, name=name)  # type: ignore[attr-defined]
        else:
            self.app.start_run(config, name=name)  # type: ignore[attr-defined]

    async def action_defaults(self) -> None:
        await self.show_stage(self.stage)

    def action_focus_stages(self) -> None:
        self.query_one("#stages", OptionList).focus()

    def action_focus_name(self) -> None:
        self.query_one("#run-name", Input).focus()

