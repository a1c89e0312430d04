"""Every key of the app: the bindings of each screen, with their groups and descriptions.

The app and the screens take their BINDINGS from here; the help screen and the command
palette read the same lists, so a key added here is in all three.
"""
from __future__ import annotations

from textual.binding import Binding

SCREENS_GROUP = Binding.Group("screens")
# (mode, digit key, function key)
SCREEN_KEYS = (("lab", "1", "f2"), ("train", "2", "f3"), ("history", "3", "f4"), ("compare", "4", "f5"),
               ("studies", "5", "f6"))

APP = [
    Binding("f1,question_mark", "help", "Help", key_display="?"),
    # one footer entry "1 2 3 4 5 screens" (each key's screen is in the header, the help and the palette)
    *[Binding(f"{digit},{fkey}", f"goto('{mode}')", mode.capitalize(), key_display=digit, group=SCREENS_GROUP)
      for mode, digit, fkey in SCREEN_KEYS],
    Binding("ctrl+q", "quit", "Quit", priority=True, show=False),  # in help and the palette; the footer is full
    Binding("ctrl+t", "next_theme", "Theme", show=False),
]

LAB = [
    Binding("ctrl+r", "start", "Start run", priority=True),
    Binding("ctrl+e", "queue", "Queue run", priority=True,
            tooltip="start it when the runs queued before it on its device have ended"),
    Binding("ctrl+o", "defaults", "Defaults"),  # (not ctrl+d: a text field takes it, to delete a character)
    Binding("ctrl+l", "questions", "Questions", priority=True,
            tooltip="the lab questions this stage's views answer, in place of its text (again: back)"),
    Binding("escape", "focus_stages", "Stages", show=False),
    Binding("ctrl+n", "focus_name", "Name", show=False),
]

TRAIN = [
    Binding("s", "stop", "Stop"),
    Binding("v", "next_view", "Panel", tooltip="next view of the stage's panel"),
    # the panel's view keys act only while their view is shown (TrainScreen.check_action); `i` is then in the
    # footer, and the views say the others (the footer of an 80-column terminal has no room for them)
    Binding("i", "image(1)", "Image", tooltip="features view: the next recorded image"),
    Binding("I", "image(-1)", "Previous image", tooltip="features view: the previous recorded image", show=False),
    Binding("left_square_bracket", "maps_epoch(-1)", "Earlier maps", key_display="[", show=False,
            tooltip="filters and features views: the recorded epoch before the one shown"),
    Binding("right_square_bracket", "maps_epoch(1)", "Later maps", key_display="]", show=False,
            tooltip="filters and features views: the recorded epoch after the one shown"),
    Binding("r", "again", "Run again"),
    Binding("R", "resume", "Resume", tooltip="continue this run if it was interrupted or crashed", show=False),
    Binding("e", "edit", "Edit", tooltip="edit this run's values in Lab"),
    Binding("p", "save_figure", "Save figure",
            tooltip="the run's loss and accuracy as a PNG (matplotlib) and an SVG "
                    "screenshot, in <runs dir>/.figures", show=False),
    Binding("y", "reproduce", "Reproduce command",
            tooltip="the `nnlab run` command of this run, shown and copied to the "
                    "clipboard", show=False),
]

HISTORY = [
    Binding("slash", "search", "Search", key_display="/"),
    Binding("escape", "leave_search", "Leave search", show=False),
    Binding("o", "sort", "Sort"),
    Binding("O", "reverse", "Reverse sort", show=False),
    Binding("f", "filter_stage", "Stage filter", show=False),
    Binding("F", "filter_status", "Status filter", show=False),
    Binding("T", "filter_tag", "Tag filter", show=False),
    Binding("space", "mark", "Mark"),
    Binding("c", "compare", "Compare"),
    Binding("x", "clear_marks", "Clear marks", show=False),
    Binding("r", "rename", "Rename", show=False),
    Binding("t", "tag", "Tag", show=False),
    Binding("n", "note", "Note", show=False),
    Binding("d", "delete", "Delete", show=False),
    Binding("u", "undo", "Undo delete", show=False),
    Binding("a", "again", "Run again", show=False),
    Binding("R", "resume", "Resume", tooltip="continue an interrupted or crashed run (as `nnlab resume`)",
            show=False),
    Binding("enter", "open", "Open in Train", tooltip="the run's curves and panel, live while it runs",
            show=False),
    Binding("e", "edit", "Edit in Lab", show=False),
    Binding("ctrl+l", "reload", "Reload", show=False),
    Binding("p", "save_figure", "Save figure",
            tooltip="the marked runs (else the selected one) as a PNG (matplotlib) and an "
                    "SVG screenshot, in <runs dir>/.figures", show=False),
    Binding("y", "reproduce", "Reproduce command",
            tooltip="the `nnlab run` command of the selected run, shown and copied to the "
                    "clipboard", show=False),
]

COMPARE = [
    Binding("m", "metric", "Metric"),
    Binding("x", "xaxis", "X axis", tooltip="epoch or wall time"),
    Binding("s", "smooth", "Smooth", tooltip="causal EMA smoothing: cycle its strength"),
    Binding("l", "log", "Log y"),
    Binding("k", "all_keys", "All keys", show=False),
    Binding("v", "view", "View", tooltip="the runs, the 2-cd ablation, a sweep, or the runs' gradient flow per layer"),
    Binding("left_square_bracket", "sweep(-1)", "Prev sweep", key_display="[", show=False),
    Binding("right_square_bracket", "sweep(1)", "Next sweep", key_display="]", show=False),
    Binding("p", "save_figure", "Save figure",
            tooltip="the curves of this view, with its settings, as a PNG (matplotlib) and "
                    "an SVG screenshot, in <runs dir>/.figures", show=False),
]

STUDIES = [
    Binding("p", "param", "Parameter", tooltip="the parameter that colours the curves and is the x axis"),
    Binding("v", "view", "View", tooltip="curves of every trial, or the parameter against the metric"),
    Binding("l", "log", "Log x", tooltip="log or linear axis for the parameter", show=False),
    Binding("enter", "open", "Open run", tooltip="the trial's run in Compare (when it is in this runs dir)",
            priority=True),
    Binding("c", "compare", "Compare best", tooltip="the best trials whose runs are here, in Compare", show=False),
    Binding("left_square_bracket", "study(-1)", "Prev study", key_display="[", show=False),
    Binding("right_square_bracket", "study(1)", "Next study", key_display="]", show=False),
    Binding("ctrl+l", "reload", "Reload", show=False),
]

# the History table's cursor keys (help lists them under "in tables and lists")
TABLE = [
    Binding("up", "cursor(-1)", "Up", show=False),
    Binding("down", "cursor(1)", "Down", show=False),
    Binding("pageup", "page(-1)", "Page up", show=False),
    Binding("pagedown", "page(1)", "Page down", show=False),
    Binding("home", "first", "First", show=False),
    Binding("end", "last", "Last", show=False),
]

HELP = [Binding("escape,q,question_mark,f1", "close", "Close")]
PROMPT = [Binding("escape", "cancel", "Cancel")]
QUIT_DIALOG = [Binding("enter,q,ctrl+q", "leave", "Quit, leave them training", priority=True),
               Binding("s", "stop_runs", "Stop them, then quit"), Binding("escape", "cancel", "Stay")]
COMMAND_DIALOG = [Binding("escape", "close", "Close")]

# what help and the palette list: the app's keys, then each screen's (title, its app mode, its bindings)
SCREENS = (("Lab", "lab", LAB), ("Train", "train", TRAIN), ("History", "history", HISTORY),
           ("Compare", "compare", COMPARE), ("Studies", "studies", STUDIES))
EVERYWHERE = "everywhere"
SECTIONS = ((EVERYWHERE, APP), *((title, bindings) for title, _, bindings in SCREENS))

KEY_NAMES = {"question_mark": "?", "number_sign": "#", "left_square_bracket": "[", "right_square_bracket": "]",
             "slash": "/", "space": "space"}


def first_key(binding: Binding) -> str:
    """The key a user reads for a binding: its display, else the first of its keys."""
    return binding.key_display or binding.key.split(",")[0]


def key_names(binding: Binding) -> str:
    """All keys of a binding as a user types them: 'f1, ?'."""
    return ", ".join(KEY_NAMES.get(k, k) for k in binding.key.split(","))
