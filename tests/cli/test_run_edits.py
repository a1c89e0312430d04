"""`nnlab runs tag|untag|rename|note` with History's rules, and `runs list`'s filters (--stage, --status,
--tag, --since, --search with History's syntax). The real CLI, over two real short runs."""
from __future__ import annotations

import json


def ids(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [r["id"] for r in json.loads(result.stdout)]


def listed_ids(capsys, runs_dir, *args: str) -> list[str]:
    """`nnlab runs list --json ARGS` in this process (the filters; the subprocess path is checked once)."""
    from engine.cli.main import main

    capsys.readouterr()
    assert main(["runs", "list", "--json", "--runs-dir", str(runs_dir), *args]) == 0
    return [r["id"] for r in json.loads(capsys.readouterr().out)]


def test_edit_verbs_and_list_filters(cli, capsys):
    first = json.loads(cli("run", "circles-nn", "epochs=3", "lr=0.1", "--json").stdout)["run_id"]
    second = json.loads(cli("run", "circles-optim", "epochs=3", "--json").stdout)["run_id"]

    tagged = cli("runs", "tag", first[-4:], second, "baseline")
    assert tagged.returncode == 0, tagged.stderr
    assert ids(cli("runs", "list", "--json", "--tag", "baseline")) == [second, first]
    assert cli("runs", "untag", second, "baseline").returncode == 0
    assert ids(cli("runs", "list", "--json", "--tag", "baseline")) == [first]
    assert cli("runs", "rename", first, "  lr sweep start ").returncode == 0
    assert cli("runs", "note", first, "too fast?").returncode == 0
    assert cli("runs", "note", first, "check lr=0.03", "--append").returncode == 0
    shown = json.loads(cli("runs", "show", first, "--json").stdout)
    assert shown["name"] == "lr sweep start" and shown["tags"] == ["baseline"]
    assert shown["notes"] == "too fast?\ncheck lr=0.03"

    def listed(*args: str) -> list[str]:
        return listed_ids(capsys, cli.runs_dir, *args)

    assert listed("--stage", "circles-optim") == [second]
    assert listed("--status", "finished") == [second, first]
    assert listed("--status", "crashed") == []
    assert listed("--since", "1d") == [second, first]
    assert listed("--since", "2999-01-01") == []
    assert listed("--search", "lr=0.1") == [first]  # exact: not 0.03
    assert listed("--search", "stage:optim") == [second]
    assert listed("--search", "sweep") == [first]
    assert "lr sweep start" in cli("runs", "list", "--tag", "baseline").stdout


def test_edits_refuse_what_history_refuses_and_change_nothing(cli):
    run = json.loads(cli("run", "circles-nn", "epochs=2", "--json").stdout)["run_id"]
    before = json.loads((cli.runs_dir / run / "run.json").read_text())
    for args, needle in ((["tag", run, "a,b"], "tag"), (["rename", run, "   "], "name"),
                         (["tag", run], "RUN... TAG"), (["tag", "nope", run[-4:], "x"], "nope"),
                         (["list", "--since", "yesterday"], "--since"), (["list", "--stage", "circles"], "--stage")):
        result = cli("runs", *args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and needle in lines[0], (args, result.stderr)
    after = json.loads((cli.runs_dir / run / "run.json").read_text())
    assert after == before  # `tag nope 4hex x` resolved every run before editing any
