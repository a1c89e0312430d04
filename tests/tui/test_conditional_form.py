"""The Lab form: a key that does nothing with the other values is dimmed, its field disabled, and its help
says when it would apply; it comes back when the value that decides changes."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for
from tui_canned import DEVICES

from tui.app import NNLabApp


def test_momentum_is_off_with_plain_sgd_and_on_with_momentum(runs_dir, tmp_path):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(120, 50)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            stages = lab.query_one("#stages")
            stages.highlighted = stages.get_option_index("cifar-base")
            await wait_for(pilot, lambda: lab.stage.id == "cifar-base" and lab.query("#key-momentum"), 20,
                           "cifar-base's form")
            await pilot.pause()
            momentum = lab.query_one("#key-momentum")
            assert momentum.disabled and lab.query_one("#key-gamma").disabled
            assert "n/a: applies with optimizer=momentum or nesterov" in str(lab.query_one("#form-help").render())
            lab.query_one("#key-optimizer").value = "momentum"
            await wait_for(pilot, lambda: not momentum.disabled, 10, "momentum enabled")
            assert lab.query_one("#key-step_size").disabled  # still no step scheduler
            lab.query_one("#key-scheduler").value = "step"
            await wait_for(pilot, lambda: not lab.query_one("#key-step_size").disabled, 10, "step_size enabled")
            assert lab.validate()["optimizer"] == "momentum"

    asyncio.run(main())
