"""Choosing the Runner for field inference: the model file decides, ``auto`` falls back."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import Runner
from lnet_edge.runners.registry import BACKENDS, for_file

# --backend choices: "auto" and every registered backend (runners.registry)
Backend = Enum("Backend", {"auto": "auto", **{name: name for name in BACKENDS}}, type=str)


def tensorrt_usable() -> bool:
    """A TensorRT flavour (tensorrt or tensorrt_rtx) is installed and a CUDA device is visible
    (TensorRT-RTX installs and builds on machines without a GPU, where no plan can run)."""
    return BACKENDS["tensorrt"].unavailable() is None


def plan_fallback_onnx(plan: Path) -> Path | None:
    """The ONNX a plan was built from: its manifest's ``onnx``/``source`` entry, else NAME.onnx."""
    manifest = plan.with_name(plan.name + ".json")
    candidates: list[Path] = []
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError):
            meta = {}
        for key in ("onnx", "source", "source_onnx"):
            if isinstance(meta.get(key), str):
                p = Path(meta[key])
                candidates.append(p if p.is_absolute() else plan.parent / p)
    candidates.append(plan.with_suffix(".onnx"))
    return next((p for p in candidates if p.is_file()), None)


class FieldModel(NamedTuple):
    runner: Runner
    config: ModelConfig
    warning: str  # something the user should know (a fallback), or ""
    choice: str  # what runs and why, for a bundle; "" for a single model file
    sha256: str  # of the file that runs (the bundle artifact, or the model file)


def default_model() -> Path:
    """The shipped default: its bundle when the package holds one, else its fp32 ONNX."""
    from lnet_edge.bundle import is_bundle
    from lnet_edge.defaults import DEFAULT_MODEL_DIR, DEFAULT_ONNX

    return DEFAULT_MODEL_DIR if is_bundle(DEFAULT_MODEL_DIR) else DEFAULT_ONNX


def open_field_model(
    model: Path | None,
    backend: Backend,
    threads: int | None = None,
    cuda_graph: bool = False,
    precision: str | None = None,
    force_precision: bool = False,
    say=None,
) -> FieldModel:
    """What runs ``model`` (default: the shipped bundle) on ``backend``.

    A bundle (a folder with bundle.json) gets the fastest safe choice on this machine
    (:mod:`lnet_edge.field.choice`). A single file: ``auto`` runs a ``.plan`` on TensorRT when a
    runtime is installed, else on ONNX Runtime from the ONNX it was built from (the warning says
    so); ``.onnx`` on ONNX Runtime; ``.pt`` on PyTorch. An explicit backend that cannot run the
    file is an error, never rewritten.
    """
    from lnet_edge.bundle import is_bundle, read_bundle
    from lnet_edge.files import sha256_file
    from lnet_edge.runners.open import open_model

    path = Path(model) if model else default_model()
    if is_bundle(path):
        from lnet_edge.field.choice import choose, here, open_choice

        if backend == Backend.torch:
            raise LnetError(f"{path} is a bundle of ONNX models: --backend torch needs a .pt checkpoint")
        bundle = read_bundle(path)
        choice = choose(bundle, here(), backend.value, precision, force_precision)
        runner = open_choice(bundle, choice, threads, cuda_graph, say)
        return FieldModel(runner, bundle.config, choice.note, choice.describe(), bundle.artifacts[choice.role].sha256)
    if precision is not None:
        raise LnetError(f"--precision {precision} chooses among a bundle's models; {path} is one model file")
    suffix = path.suffix.lower()
    if not path.is_file():
        raise LnetError(
            f"model {path} does not exist: give a bundle, .plan, .onnx or .pt (or none for the shipped model)"
        )
    if suffix == ".plan":
        if backend == Backend.tensorrt or (backend == Backend.auto and tensorrt_usable()):
            runner, config = open_model(path, threads=threads, cuda_graph=cuda_graph)  # the pre-load check speaks
            return FieldModel(runner, config, "", "", sha256_file(path))
        if backend != Backend.auto:
            raise LnetError(
                f"{path} is a TensorRT plan, which backend '{backend.value}' cannot run: "
                "use --backend tensorrt (or auto) or give the .onnx"
            )
        onnx = plan_fallback_onnx(path)
        if onnx is None:
            raise LnetError(
                f"no TensorRT runtime to run {path} and no ONNX beside it: install TensorRT or give --model X.onnx"
            )
        runner, config = open_model(onnx, threads=threads)
        note = f"no TensorRT runtime here: running {onnx.name} on ONNX Runtime instead of {path.name}"
        return FieldModel(runner, config, note, "", sha256_file(onnx))
    spec = for_file(path) if backend == Backend.auto else BACKENDS[backend.value]
    if suffix not in spec.suffixes:
        raise LnetError(
            f"backend '{spec.name}' cannot run {path.name}: use --backend {for_file(path).name} "
            f"(or auto), or give a model made for {spec.name}"
        )
    why = spec.unavailable()
    if why:
        raise LnetError(f"backend '{spec.name}' cannot run here: {why}")
    runner, config = spec.open(path, threads=threads, cuda_graph=cuda_graph)
    return FieldModel(runner, config, "", "", sha256_file(path))
