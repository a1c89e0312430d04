"""The CNN's maps: conv1's filters and the feature maps of each conv layer for a few test images, as JSON
artifacts (kinds "filters" and "features", see engine.inside), and their decoding for figures and the TUI."""
from __future__ import annotations

import base64
from typing import Any

import numpy as np

N_FEATURE_IMAGES = 8  # the first sample images get their feature maps recorded


def filters_payload(epoch: int, weight: Any) -> dict[str, Any]:
    """conv1's weight (a C_out x C_in x k x k tensor or array) as a "filters" artifact."""
    array = np.asarray(weight.detach().float().cpu() if hasattr(weight, "detach") else weight, dtype=np.float64)
    values = [float(f"{v:.5g}") for v in array.reshape(-1)]
    return {"kind": "filters", "epoch": epoch, "layer": "conv1", "shape": list(array.shape), "weights": values}


def filter_array(payload: dict[str, Any]) -> np.ndarray:
    """The filters artifact's weights as a C_out x C_in x k x k array."""
    return np.asarray(payload["weights"], dtype=np.float64).reshape(payload["shape"])


def encode_maps(maps: np.ndarray) -> tuple[list[float], str]:
    """One image's C x H x W non-negative maps -> (per-channel max, base64 of round(255 * map / max) as uint8)."""
    maps = np.maximum(np.asarray(maps, dtype=np.float32), 0.0)
    top = maps.reshape(maps.shape[0], -1).max(axis=1)
    scale = np.where(top > 0, 255.0 / np.where(top > 0, top, 1.0), 0.0)
    codes = np.rint(maps * scale[:, None, None]).clip(0, 255).astype(np.uint8)
    return [float(f"{t:.5g}") for t in top], base64.b64encode(codes.tobytes()).decode("ascii")


def features_payload(epoch: int, layers: dict[str, np.ndarray], images: list[int], true: list[int],
                     labels: list[str]) -> dict[str, Any]:
    """{layer: B x C x H x W post-ReLU maps} for the images (test-set indices) -> a "features" artifact."""
    out = []
    for name, batch in layers.items():
        encoded = [encode_maps(one) for one in batch]
        out.append({"name": name, "channels": int(batch.shape[1]), "size": int(batch.shape[2]),
                    "max": [top for top, _ in encoded], "maps": [text for _, text in encoded]})
    return {"kind": "features", "epoch": epoch, "images": list(images), "true": list(true),
            "labels": list(labels), "layers": out}


def decode_features(payload: dict[str, Any]) -> dict[str, np.ndarray]:
    """A "features" artifact -> {layer: images x channels x size x size float array, in the maps' own units}."""
    out = {}
    for layer in payload["layers"]:
        c, n = int(layer["channels"]), int(layer["size"])
        arrays = []
        for text, top in zip(layer["maps"], layer["max"]):
            codes = np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(c, n, n).astype(np.float32)
            arrays.append(codes * (np.asarray(top, dtype=np.float32)[:, None, None] / 255.0))
        out[layer["name"]] = np.stack(arrays) if arrays else np.zeros((0, c, n, n), np.float32)
    return out
