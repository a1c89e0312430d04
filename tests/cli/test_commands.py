"""stages, summary, --config and the offline data messages, through the real CLI."""
import json
import select
import time


def test_stages_json_lists_every_stage_with_defaults(cli):
    result = cli("stages", "--json")
    assert result.returncode == 0
    stages = {s["id"]: s for s in json.loads(result.stdout)}
    assert list(stages) == ["circles-manual", "circles-autograd", "circles-nn", "circles-optim", "mnist-mlp",
                            "circles-svm", "cifar-base", "cifar-norm", "cifar-augment", "cifar-scheduler",
                            "cifar-dropout", "cifar-batchnorm"]
    optim = stages["circles-optim"]
    assert optim["defaults"]["reduction"] == "sum" and optim["defaults"]["init_std"] == 0.3
    assert "same computation" in optim["teaches"] or "one computation" in optim["teaches"]
    assert stages["cifar-batchnorm"]["defaults"]["batchnorm"] is True
    assert stages["cifar-norm"]["defaults"]["augment"] == "none"
    text = cli("stages").stdout
    assert "circles-svm" in text and "cifar-dropout" in text


def test_summary_json_matches_the_lab_table(cli):
    out = json.loads(cli("summary", "cifar-base", "--json").stdout)
    assert out["total_params"] == 1_191_170
    by_name = {layer["name"]: layer for layer in out["layers"]}
    assert by_name["conv1"]["params"] == 2_432 and by_name["fc4"]["params"] == 1_025_000
    assert by_name["pool3"]["receptive_field"] == 36
    assert json.loads(cli("summary", "cifar-batchnorm", "--json").stdout)["total_params"] == 1_191_490


def test_config_file_sets_keys_and_is_validated(cli, tmp_path):
    good = tmp_path / "lab.toml"
    good.write_text('epochs = 2\nlr = 0.05\nreduction = "mean"\n')
    result = cli("run", "circles-nn", "--config", str(good), "--json")
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    config = json.loads((cli.runs_dir / run_id / "config.json").read_text())
    assert (config["epochs"], config["lr"], config["reduction"]) == (2, 0.05, "mean")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = -3\n")
    result = cli("run", "circles-nn", "--config", str(bad))
    assert result.returncode == 2 and "epochs" in result.stderr and "'-3'" in result.stderr


def test_mnist_offline_says_where_files_go_and_suggests_digits(cli):
    result = cli("run", "mnist-mlp", "epochs=1")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "dataset=digits" in line and str(cli.data_dir) in line
    assert not cli.runs_dir.exists() or not [p for p in cli.runs_dir.iterdir() if not p.name.startswith(".")]


def test_cifar_offline_says_where_files_go_and_suggests_digits(cli):
    result = cli("run", "cifar-base", "epochs=1")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "dataset=digits" in line and "cifar-10-batches-py" in line
    assert not cli.runs_dir.exists() or not [p for p in cli.runs_dir.iterdir() if not p.name.startswith(".")]


def test_terminal_gets_a_progress_bar(cli):
    """On a terminal (a pty here) `nnlab run` draws a rich progress bar instead of epoch lines."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    main, child = pty.openpty()
    env = dict(os.environ, NNLAB_RUNS_DIR=str(cli.runs_dir), NNLAB_DATA_DIR=str(cli.data_dir),
               PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", COLUMNS="100", TERM="xterm-256color")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "run", "circles-nn", "epochs=15"],
                            stdin=child, stdout=child, stderr=child, env=env, cwd=ROOT)
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not select.select([main], [], [], 1.0)[0]:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    assert "\x1b[" in text and "\r" in text  # redrawn in place, with colour
    assert "━" in text or "█" in text  # a bar
    assert "epoch 15/15" in text and "finished" in text
    assert "train_loss" not in text  # not the plain per-epoch lines
