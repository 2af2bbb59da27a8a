"""Checkpoints: a torch file holding the model configuration, weights and training state.

Format (a dict): {"format": "lnet-edge-checkpoint", "format_version": 1, "config": {...},
"state_dict": {...}, "epoch": int, "metrics": {...}, optional "optimizer"/"scheduler"/"history"}.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.lazy import lazy_import

FORMAT = "lnet-edge-checkpoint"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically: to a temporary name beside ``path``, then rename."""
    torch = lazy_import("torch")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "format_version": 1, **payload}, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint dict, with one clear error for a missing, unreadable or foreign file."""
    torch = lazy_import("torch")
    path = Path(path)
    if not path.is_file():
        raise LnetError(f"checkpoint {path} does not exist: give the path of a .pt file from 'lnet-edge train'")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise LnetError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}): is it a truncated or foreign file?"
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise LnetError(f"{path} is not an lnet-edge checkpoint: make one with 'lnet-edge train'")
    return ckpt


def network_digest(ckpt: dict[str, Any]) -> str:
    """sha256 of what a checkpoint's predictions depend on: its configuration (threshold and gate
    included) and its weights, not its training history or notes. Two files with one digest
    score every image the same, so scores recorded for one hold for the other."""
    import hashlib
    import json

    h = hashlib.sha256(json.dumps(ckpt["config"], sort_keys=True).encode())
    for name, tensor in sorted(ckpt["state_dict"].items()):
        h.update(name.encode())
        h.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_model(path: Path, expect: ModelConfig | None = None):
    """Build the network a checkpoint describes and load its weights (fp32, eval mode).

    If ``expect`` is given, a checkpoint of another variant, preset or band count is refused.
    """
    from lnet_edge.model.lnet import LNet

    ckpt = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(ckpt.get("config"))
    except LnetError as exc:
        raise LnetError(f"checkpoint {path}: field 'config': {exc}") from None
    if expect is not None:
        for name in ("variant", "preset", "bands"):
            got, want = getattr(config, name), getattr(expect, name)
            if got != want:
                raise LnetError(
                    f"checkpoint {path} is {name}={_show(got)} but {_show(want)} was asked for: "
                    f"pass --{name.replace('_', '-')} {_show(got)} or use a checkpoint of that {name}"
                )
    model = LNet(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise LnetError(
            f"checkpoint {path} does not match its own configuration ({config.preset}): {str(exc)[:200]}"
        ) from exc
    model.eval()
    return model, ckpt


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return getattr(value, "value", str(value))


FP32_KEYS = ("gate.",)  # the scene gate's weights: its cut is sharp, so it keeps full precision


def release_checkpoint(src: Path, dst: Path, **config_updates: Any) -> Path:
    """A compact copy for shipping: weights in fp16, BatchNorm statistics kept in fp32 (running
    variances can exceed fp16's 65504) and so is the scene gate (FP32_KEYS), no optimizer state.
    ``load_model`` upcasts to fp32. ``config_updates`` set configuration fields (e.g. ``gsd=(0.2, 1.0)``), checked as usual."""
    ckpt = read_checkpoint(src)
    state = {k: v.half() if v.is_floating_point() and not k.startswith(FP32_KEYS) and "running_" not in k else v
             for k, v in ckpt["state_dict"].items()}  # fmt: skip
    keep = ("config", "epoch", "metrics", "metrics_per_dataset", "options", "split", "scene_gate")
    config = ModelConfig.from_dict({**ckpt["config"], **config_updates}).to_dict()
    if isinstance(ckpt.get("options"), dict):  # enum members as plain values
        ckpt["options"] = {k: getattr(v, "value", v) for k, v in ckpt["options"].items()}
    save_checkpoint(
        Path(dst),
        {
            **{k: ckpt[k] for k in keep if k in ckpt},
            "config": config,
            "state_dict": state,
            "weights": "fp16 parameters, fp32 BatchNorm statistics",
        },
    )
    return Path(dst)
