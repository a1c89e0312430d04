"""Work that may run torch's parallel ops, called from the UI in a thread that ends with it.

With the OpenMP build of torch, every thread that ever ran a parallel op keeps a team of OpenMP threads for
the life of the process. Run in the UI thread (or a Textual thread worker, whose executor threads live as long
as the app), such work leaves that team behind; a thread that exits takes its team with it."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_own_thread(target: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Call target(*args, **kwargs) in a new thread that ends with it, and wait for it; an exception it raised
    is raised here."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=body, name="nnlab-own-thread")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
