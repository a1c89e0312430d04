"""Whether a download host answers, in about 2 s (name lookup included), before torchvision tries to download:
offline, its own attempts take 18-20 s to fail. Used by `nnlab data fetch` and by the MNIST and CIFAR-10 loaders.
"""
from __future__ import annotations

import queue
import socket
import threading
import time
from urllib.parse import urlsplit

PROBE_SECONDS = 2.0

# Where torchvision downloads from (MNIST.mirrors, CIFAR10.url; a test keeps these equal to torchvision's):
# written here so that whether any answers is known in a second, before torch is imported.
DOWNLOAD_URLS = {"mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
                 "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
                 "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)}


def _endpoints(urls: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """(host, port, label) to try for each URL: the URL's host, or its scheme's proxy from the environment."""
    import urllib.request  # with http.client and ssl: 0.04 s, paid only when a download is considered

    proxies = urllib.request.getproxies()
    out = []
    for url in urls:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = proxies.get(parts.scheme)
        if proxy and not urllib.request.proxy_bypass(host):
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            out.append((p.hostname or "", p.port or 80, f"{host} via proxy {p.hostname}:{p.port or 80}"))
        else:
            out.append((host, port, f"{host}:{port}"))
    return out


def probe(urls: tuple[str, ...], seconds: float = PROBE_SECONDS) -> tuple[str | None, list[str]]:
    """Does any download host (or its proxy) accept a TCP connection within `seconds`, name lookup included?
    All are tried at once, each in a daemon thread (a name lookup can hang far longer than any timeout: it is
    not waited for). -> (the first label that answered or None, each label tried with why it failed)."""
    endpoints = _endpoints(urls)
    answers: queue.Queue[tuple[str, str | None]] = queue.Queue()

    def attempt(host: str, port: int, label: str) -> None:
        try:
            with socket.create_connection((host, port), timeout=seconds):
                answers.put((label, None))
        except socket.gaierror as exc:
            answers.put((label, f"name lookup failed: {exc.strerror or exc}"))
        except (OSError, ValueError) as exc:
            answers.put((label, getattr(exc, "strerror", None) or str(exc) or type(exc).__name__))

    for endpoint in endpoints:
        threading.Thread(target=attempt, args=endpoint, daemon=True).start()
    why = {label: f"no answer in {seconds:g} s" for _, _, label in endpoints}
    deadline = time.monotonic() + seconds
    for _ in endpoints:
        try:
            label, error = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if error is None:
            return label, list(why)
        why[label] = error
    return None, [f"{label} ({error})" for label, error in why.items()]
