"""Point 7: random keys and values at the config parser and the CLI: every outcome is a valid config or one
clear line with exit 2, never a traceback. No example starts training."""
import json
import math
import string

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from engine import cli as cli_module
from engine.config import KEYS, SVM_GAMMA, ConfigError, load_toml, parse_assignments
from engine.stages import STAGES, resolve_config
from engine.train import resume_config

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALL_KEYS = sorted(set(KEYS) | {"gamma", "stage"})
NUMBERS = ["0", "-1", "1", "1e9", "2.5", "nan", "inf", "-inf", "1e-320", "0x10", "1_000", " 3 ", "١٢", "True",
           "", "9" * 30, "-0", "+7", "1e400"]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
raw_values = st.one_of(
    text, st.sampled_from(NUMBERS), st.sampled_from(["circles", "digits", "x.mat", "~/a.MAT", "sum", "crop-flip+jitter",
                                                     "none", "scale", "rbf", "adam", "true", "off"]),
    st.integers(min_value=-2**63, max_value=2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.datetimes(), st.dates(), st.times())  # every TOML scalar type
keys = st.one_of(st.sampled_from(ALL_KEYS), text)


def one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message and "Traceback" not in message, message


@SETTINGS
@given(key=st.sampled_from(sorted(KEYS)) | st.just("svm_gamma"), raw=raw_values)
def test_key_parse_gives_a_valid_value_or_one_line(key, raw):
    spec = SVM_GAMMA if key == "svm_gamma" else KEYS[key]
    try:
        value = spec.parse(raw)
    except ConfigError as exc:
        one_line(str(exc))
        assert spec.name in str(exc) and "allowed" in str(exc)
        return
    if spec.kind in ("int", "float"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        assert spec.low is None or value >= spec.low
        assert spec.high is None or value <= spec.high
        if spec.kind == "int":
            assert isinstance(value, int)
    assert spec.parse(value) == value  # a parsed value parses to itself (config.json -> resume)


@SETTINGS
@given(stage=st.sampled_from(sorted(STAGES)) | text, overrides=st.dictionaries(keys, raw_values, max_size=6))
def test_resolve_config_gives_a_valid_config_or_one_line(stage, overrides):
    try:
        config = resolve_config(stage, overrides)
    except ConfigError as exc:
        one_line(str(exc))
        return
    assert config["stage"] == stage
    # what a run saves in config.json resolves to the same config again on `nnlab resume`
    saved = json.loads(json.dumps(config))
    assert resume_config(saved) == config
    if "epochs" in STAGES[stage].keys:
        assert resume_config(saved, {"epochs": "7"})["epochs"] == 7


@SETTINGS
@given(items=st.lists(text | st.builds(lambda k, v: f"{k}={v}", keys, text), max_size=6))
def test_parse_assignments_gives_pairs_or_one_line(items):
    try:
        pairs = parse_assignments(items)
    except ConfigError as exc:
        one_line(str(exc))
        return
    assert all(isinstance(k, str) and k.strip() == k and k for k in pairs)


@SETTINGS
@given(content=st.binary(max_size=200) | st.builds(
    lambda pairs: "\n".join(f"{k} = {v}" for k, v in pairs),
    st.lists(st.tuples(st.sampled_from(ALL_KEYS) | st.text(string.ascii_letters, min_size=1, max_size=8),
                       st.sampled_from(['"x"', "1", "0.5", "true", "nan", "[1]", "{a=1}", "1979-05-27", '"', "= ="])),
             max_size=5)).map(str.encode))
def test_load_toml_then_resolve_gives_a_config_or_one_line(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("toml") / "c.toml"
    path.write_bytes(content)
    try:
        resolve_config("circles-optim", load_toml(str(path)))
    except ConfigError as exc:
        one_line(str(exc))


# ---------------------------------------------------------------- the CLI, in process

TOKENS = st.one_of(
    text, st.sampled_from(["--json", "--runs-dir", "--data-dir", "--config", "--name", "--tag", "--jobs", "--csv",
                           "-h", "--", "-", "--no-mouse", "circles-optim", "cifar-base", "nope", "epochs=3",
                           "lr=0.1", "a\nb", "..", "../x", "/etc/passwd", "x.toml"]),
    st.builds(lambda k, v: f"{k}={v}", keys, st.sampled_from(NUMBERS) | text))
COMMANDS = st.sampled_from([["run"], ["run", "circles-optim"], ["run", "cifar-batchnorm"], ["sweep", "circles-optim"],
                            ["resume"], ["summary"], ["summary", "circles-optim"], ["stages"], ["runs"],
                            ["runs", "list"], ["runs", "show"], ["runs", "compare"], ["runs", "export"],
                            ["frobnicate"], []])


def _no_training(argv: list[str]) -> list[str]:
    """run and sweep get an epochs value that always fails validation (after `--`, so that no option left
    hanging at the end can take it as its value); resume can only hit damaged runs."""
    if argv[:1] == ["run"] or argv[:1] == ["sweep"]:
        return argv + ["--", "epochs=0"]
    return argv


@SETTINGS
@given(command=COMMANDS, tokens=st.lists(TOKENS, max_size=5))
@example(command=["runs", "list"], tokens=["a\nb"])
@example(command=["run", "circles-optim"], tokens=["--config", "no\nsuch.toml"])
@example(command=["runs", "show"], tokens=["\x1b[2J"])
@example(command=["run", "circles-optim"], tokens=["--d"])  # once an abbreviation of --data-dir
def test_cli_outcome_is_exit_0_or_one_clear_line_with_exit_2(tmp_path_factory, capsys, monkeypatch, command, tokens):
    argv = _no_training(command + tokens)
    assume(argv and argv[0] != "--no-mouse" and not (len(argv) == 1 and argv[0].startswith("--")))
    assume(argv[:1] != [] and argv[0] in {"run", "sweep", "resume", "summary", "stages", "runs", "frobnicate"})
    runs = tmp_path_factory.mktemp("runs")
    (runs / "20250101-000000-circles-optim-abcd").mkdir()  # a damaged run: nothing to resume
    monkeypatch.setenv("NNLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("NNLAB_DATA_DIR", str(runs / "data"))
    capsys.readouterr()
    try:
        rc = cli_module.main(argv)
    except SystemExit as exc:  # argparse --help: prints help and exits 0
        assert exc.code == 0 and ("-h" in argv or "--help" in argv), argv
        return
    out, err = capsys.readouterr()
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("nnlab:"), (argv, err)
        assert "Traceback" not in err
        assert "\x1b" not in err, "a control character reached the terminal"
    assert [p.name for p in runs.iterdir()] == ["20250101-000000-circles-optim-abcd"], "a run folder was made"
