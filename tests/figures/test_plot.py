"""`nnlab plot`: real PNG/SVG/PDF files from real runs, every kind, and bad input (one line, exit 2, no
file written)."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from engine.figures.curves import draw_curves, save_runs_figure
from engine.figures.save import DPI, save_figure
from engine.figures.style import colour
from engine.store import load_run, read_metrics
from tests.conftest import run_cli
from tests.figures.conftest import PNG_SIGNATURE, make_run


def plot(store, *args: str):
    runs, _ = store
    return run_cli("plot", *args, runs_dir=runs, timeout=120)


def curve_pixels(fig, ax, xs, ys, height_px):
    """Pixel (row, col) of data points in the saved PNG of `fig` (saved at DPI)."""
    scale = DPI / fig.dpi
    pts = ax.transData.transform(np.column_stack([xs, ys])) * scale
    return [(int(round(height_px - y)), int(round(x))) for x, y in pts]


def near(image, row, col, rgb, tol=0.16, r=2):
    """True when a pixel within r of (row, col) has colour rgb (0-1 floats) within tol per channel."""
    patch = image[max(0, row - r):row + r + 1, max(0, col - r):col + r + 1, :3]
    return bool((np.abs(patch - np.asarray(rgb)) <= tol).all(axis=-1).any())


def test_png_from_the_cli_draws_the_curve_where_the_data_is(store, tmp_path):
    runs, ids = store
    out = tmp_path / "curve.png"
    result = plot(store, ids["circles"], "--metric", "test_acc", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    image = imread(str(out))
    # the same figure in this process gives the axes geometry (the figure is deterministic)
    run = load_run(runs / ids["circles"])
    fig = draw_curves([run], metric="test_acc")
    save_figure(fig, tmp_path / "same.png")
    assert np.array_equal(imread(str(tmp_path / "same.png")), image)
    ax = fig.axes[0]
    rows = read_metrics(runs / ids["circles"])
    xs, ys = [r["epoch"] for r in rows], [r["test_acc"] for r in rows]
    rgb = [int(colour(0)[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    pixels = curve_pixels(fig, ax, xs, ys, image.shape[0])
    assert all(near(image, r, c, rgb) for r, c in pixels), "the run's colour is not where its points are"
    # and the background elsewhere: a point of the axes just above its bottom, below every value, is white
    ylow = ax.get_ylim()[0] + 0.02 * (ax.get_ylim()[1] - ax.get_ylim()[0])
    (row, col), = curve_pixels(fig, ax, [xs[len(xs) // 2]], [ylow], image.shape[0])
    assert min(ys) > ylow and (image[row, col, :3] > 0.97).all()
    assert not near(image, row, col, rgb)


def test_svg_and_pdf_are_real_files(store, tmp_path):
    _, ids = store
    for name, head in (("c.svg", b"<?xml"), ("c.pdf", b"%PDF-")):
        out = tmp_path / name
        result = plot(store, ids["sweep_a"], ids["sweep_b"], "--x", "wall", "--smooth", "0.6", "--log-y", "-o",
                      str(out))
        assert result.returncode == 0, result.stderr
        data = out.read_bytes()
        assert data.startswith(head) and len(data) > 3000
        if name.endswith(".svg"):
            assert b"<svg" in data and b"lr=0.1" in data and b"lr=0.3" in data  # the legend names what differs
        else:
            assert data.rstrip().endswith(b"%%EOF")
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("kind,key", [("boundary", "circles"), ("svm", "svm"), ("confusion", "digits"),
                                      ("samples", "digits"), ("samples", "cnn"), ("confusion", "cnn")])
def test_every_kind_draws_a_png(store, tmp_path, kind, key):
    _, ids = store
    out = tmp_path / f"{kind}.png"
    result = plot(store, ids[key], "--kind", kind, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    image = imread(str(out))[..., :3]
    assert image.std() > 0.05  # drawn, not a blank canvas


def test_sweep_kind_from_a_tag(store, tmp_path):
    _, ids = store
    out = tmp_path / "sweep.png"
    result = plot(store, "sweep-t1", "--kind", "sweep", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_default_path_and_the_tui_function(store, tmp_path):
    runs, ids = store
    path = save_runs_figure([runs / ids["sweep_a"], runs / ids["sweep_b"]], metric="loss", x="wall", smooth=0.6,
                            log_y=True)
    assert path.parent == runs / ".figures" and path.suffix == ".png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    path.unlink()
    result = plot(store, ids["circles"])
    assert result.returncode == 0, result.stderr
    made = result.stdout.strip()
    assert made.startswith(str(runs / ".figures")) and open(made, "rb").read(8) == PNG_SIGNATURE


@pytest.mark.parametrize("args,says", [
    (["nosuchrun"], "no run matches"),
    (["{cnn}", "--kind", "boundary"], "boundary"),
    (["{svm}", "--kind", "samples"], "samples"),
    (["{circles}", "-o", "{tmp}/x.jpg"], "allowed: a file name ending in .png, .svg or .pdf"),
    (["{circles}", "-o", "{tmp}/notafolder.txt/x.png"], "not an existing folder"),
    (["{circles}", "--metric", "bogus"], "--metric"),
    (["{circles}", "--smooth", "1.5"], "--smooth"),
    (["{circles}", "{svm}", "--kind", "svm"], "draws one run"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(store, tmp_path, args, says):
    _, ids = store
    (tmp_path / "notafolder.txt").write_text("x")
    existing = tmp_path / "keep.png"
    existing.write_bytes(b"mine")
    args = [a.format(tmp=tmp_path, **ids) for a in args]
    if "-o" not in args:
        args += ["-o", str(existing)]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = plot(store, *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert existing.read_bytes() == b"mine"


def test_each_kind_draws_what_the_run_saved(store):
    """The figures' content, in this process: one boundary panel per snapshot (and the curves), the SVM's
    support vectors, every confusion count, one image per sample, a curve per swept value."""
    from engine.figures.artifacts import draw_confusion, draw_samples
    from engine.figures.boundary import draw_boundary, snapshots
    from engine.figures.svm import draw_svm
    from engine.figures.sweep import draw_sweep, sweep_of_runs, tag_runs
    from engine.store import read_artifacts

    runs, ids = store

    def loaded(key):
        return load_run(runs / ids[key]), read_artifacts(runs / ids[key])

    run, arts = loaded("circles")
    fig = draw_boundary(run, arts)
    epochs = [a["epoch"] for a in snapshots(arts)]
    assert epochs == [1, 10, 12]
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert [t.split(":")[0] for t in titles if t.startswith("epoch")] == [f"epoch {e}" for e in epochs]
    assert "loss and accuracy" in titles
    run, arts = loaded("svm")
    labels = draw_svm(run, arts).axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("support vectors (") for label in labels)
    run, arts = loaded("digits")
    matrix = arts["confusion"]["matrix"]
    texts = [t.get_text() for t in draw_confusion(run, arts).axes[0].texts]
    assert sorted(map(int, texts)) == sorted(v for row in matrix for v in row) and len(texts) == 100
    shown = [ax for ax in draw_samples(run, arts).axes if ax.get_visible() and ax.images]
    assert len(shown) == len(arts["samples"]["items"])
    fig = draw_sweep(sweep_of_runs(tag_runs(str(runs), "sweep-t1"), "t"))
    assert fig.axes[0].get_legend_handles_labels()[1] == ["lr=0.1", "lr=0.3"]


def test_sweep_kind_from_a_study_whose_run_folders_are_not_here(tmp_path):
    """A study is drawn from its storage (trials' params and curves), even with its run folders gone."""
    runs = tmp_path / "runs"
    made = run_cli("sweep", "circles-optim", "lr=0.1,0.3", "epochs=3", "--study", "st1", runs_dir=runs, timeout=180)
    assert made.returncode == 0, made.stderr
    trash = run_cli("runs", "rm", *[p.name for p in runs.iterdir() if not p.name.startswith(".")], runs_dir=runs)
    assert trash.returncode == 0, trash.stderr
    out = tmp_path / "study.svg"
    result = run_cli("plot", "st1", "--kind", "sweep", "-o", str(out), runs_dir=runs, timeout=120)
    assert result.returncode == 0, result.stderr
    svg = out.read_text()
    assert "study st1" in svg and "lr=0.1" in svg and "lr=0.3" in svg
    bad = run_cli("plot", "nosuch", "--kind", "sweep", "-o", str(out), runs_dir=runs, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_legend_labels_name_only_what_differs():
    from engine.figures.style import run_labels
    from engine.stages import resolve_config

    ids = [f"20261130-000000-x-{i:04x}" for i in range(4)]
    same_stage = [resolve_config("circles-optim", {"lr": lr}) for lr in ("0.1", "0.3")]
    assert run_labels(same_stage, ids[:2]) == ["lr=0.1", "lr=0.3"]
    levels = [resolve_config(s) for s in ("circles-manual", "circles-optim")]
    assert run_labels(levels, ids[:2]) == ["circles-manual", "circles-optim"]  # optim's preset keys: not named
    mixed = [resolve_config("circles-svm"), resolve_config("circles-svm", {"kernel": "linear"}),
             resolve_config("circles-nn", {"epochs": "20"})]
    assert run_labels(mixed, ids[:3]) == ["circles-svm", "circles-svm, kernel=linear", "circles-nn, epochs=20"]
    twins = [resolve_config("circles-nn"), resolve_config("circles-nn")]
    assert run_labels(twins, ids[:2]) == ["0000", "0001"]  # nothing differs: the short ids
    assert run_labels(same_stage * 2, ids) == ["lr=0.1 (0000)", "lr=0.3 (0001)", "lr=0.1 (0002)", "lr=0.3 (0003)"]


def _contour_levels(ax):
    """The levels of every contour line set drawn on ax (filled regions excluded)."""
    from matplotlib.contour import ContourSet
    return sorted(float(v) for c in ax.get_children() if isinstance(c, ContourSet) and not c.filled
                  for v in c.levels)


def test_svm_figure_draws_the_margins_its_title_names(store, tmp_path):
    """RBF: the 0 level and both margins are drawn, and the title says so. Linear on circles: |f| < 1 in the
    whole square, so no margin can be drawn; the title says they lie outside, with f's range. Axes labelled."""
    from engine.figures.svm import draw_svm
    from engine.store import read_artifacts

    runs, ids = store
    rbf = draw_svm(load_run(runs / ids["svm"]), read_artifacts(runs / ids["svm"])).axes[0]
    assert _contour_levels(rbf) == [-1.0, 0.0, 1.0]
    assert "margins f=±1 (dashed)" in rbf.get_title() and "lie outside" not in rbf.get_title()
    assert (rbf.get_xlabel(), rbf.get_ylabel()) == ("x1", "x2")
    linear_id = make_run(tmp_path / "runs", "circles-svm", kernel="linear")
    linear_dir = tmp_path / "runs" / linear_id
    ax = draw_svm(load_run(linear_dir), read_artifacts(linear_dir)).axes[0]
    assert _contour_levels(ax) == [0.0]
    assert "margins f=±1 lie outside (f from -" in ax.get_title()


def test_compare_figure_title_names_the_runs_and_the_smoothing(store):
    """Two runs: the stage and what differs, not just "2 runs"; with smoothing, the EMA weight is said."""
    from engine.figures.curves import draw_curves

    runs, ids = store
    pair = [load_run(runs / ids[k]) for k in ("sweep_a", "sweep_b")]
    raw = draw_curves(pair, metric="test_acc")._suptitle.get_text()
    assert raw == "circles-optim: 2 runs, lr=0.1 vs lr=0.3"
    smoothed = draw_curves(pair, metric="test_acc", smooth=0.6)._suptitle.get_text()
    assert smoothed.splitlines() == [raw, "smoothed: EMA weight 0.6 (bold), raw values faded"]
