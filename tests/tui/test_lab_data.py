"""The Lab says whether the data set in the form is in the data dir, and how to get it when it is not."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for
from tui_canned import DEVICES

from tui.app import NNLabApp


def test_the_lab_says_mnist_is_missing_and_how_to_get_it(runs_dir, tmp_path):
    data = tmp_path / "data"

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(data))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(120, 50)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            stages = lab.query_one("#stages")
            stages.highlighted = stages.get_option_index("mnist-mlp")
            await wait_for(pilot, lambda: lab.stage.id == "mnist-mlp" and lab.query("#key-dataset"), 20, "mnist-mlp")
            lab.query_one("#key-dataset").value = "mnist"
            note = lab.query_one("#key-note")
            await wait_for(pilot, lambda: "mnist: missing in" in str(note.render()), 10, "the missing notice")
            assert "nnlab data fetch mnist" in str(note.render()) and "nnlab data import" in str(note.render())
            raw = data / "MNIST" / "raw"
            raw.mkdir(parents=True)
            for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                         "t10k-labels-idx1-ubyte"):
                (raw / name).write_bytes(b"")
            lab.query_one("#key-dataset").value = "digits"
            lab.query_one("#key-dataset").value = "mnist"
            await wait_for(pilot, lambda: "mnist:" not in str(note.render()), 10, "no notice once present")

    asyncio.run(main())


def test_the_dataset_field_completes_from_the_stages_data_sets(runs_dir, tmp_path):
    """On a CNN stage, `fa` then right arrow gives fashion-mnist; on mnist-mlp, `c` suggests nothing
    (cifar10 is not one of its data sets)."""

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path / "data"))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(120, 50)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            stages = lab.query_one("#stages")
            values = {}
            for stage, typed, suggested in (("cifar-base", "fa", "fashion-mnist"), ("mnist-mlp", "c", None)):
                stages.highlighted = stages.get_option_index(stage)
                await wait_for(pilot, lambda s=stage: lab.stage.id == s and lab.query("#key-dataset"), 20, stage)
                field = lab.query_one("#key-dataset")
                field.focus()
                field.value = ""
                await pilot.press(*typed)
                assert await field.suggester.get_suggestion(typed) == suggested  # the stage's own data sets
                await wait_for(pilot, lambda f=field, t=typed, g=suggested: f.value == t
                               and (g is None or f._suggestion == g), 10, "the suggestion")
                await pilot.press("right")
                await wait_for(pilot, lambda f=field, t=typed: f.value.startswith(t), 10, "typed")
                values[stage] = field.value
            return values

    assert asyncio.run(main()) == {"cifar-base": "fashion-mnist", "mnist-mlp": "c"}
