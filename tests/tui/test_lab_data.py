"""The Lab says whether the data set in the form is in the data dir, and how to get it when it is not."""
from __future__ import annotations

import asyncio
import io

from pilot_waits import wait_for
from rich.console import Console
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


def test_ctrl_l_shows_the_lab_questions_the_stages_views_answer(runs_dir, tmp_path):
    """ctrl+l swaps the stage's teaching text for the questions its views answer, from a text field too; the
    choice holds across stages (cifar-dropout: Q33's dropout line; circles-svm: none) and ctrl+l goes back."""
    from engine.lab_questions import questions

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path / "data"))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(80, 24)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            teaches = lab.query_one("#teaches")

            def shown() -> str:
                console = Console(width=200, record=True, file=io.StringIO())
                console.print(teaches.content)
                return console.export_text()

            assert "Lab questions" not in shown()
            stages = lab.query_one("#stages")
            stages.highlighted = stages.get_option_index("cifar-dropout")
            await wait_for(pilot, lambda: lab.stage.id == "cifar-dropout" and lab.query("#key-epochs"), 20,
                           "cifar-dropout")
            lab.query_one("#key-epochs").focus()
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: "Lab questions these views answer" in shown(), 10, "the questions")
            assert lab.query_one("#key-epochs").value == "30"  # the key typed nothing into the field
            text = " ".join(shown().split())
            assert "2-cd Q33" in text and "panel 'activations'" in text
            assert f"({len(questions('cifar-dropout'))};" in text
            stages.highlighted = stages.get_option_index("circles-svm")
            await wait_for(pilot, lambda: lab.stage.id == "circles-svm", 20, "circles-svm")
            await wait_for(pilot, lambda: "none for this stage" in shown(), 10, "no questions for the SVM")
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: "Lab questions" not in shown() and "max-margin" in shown(), 10,
                           "the teaching text back")

    asyncio.run(main())
