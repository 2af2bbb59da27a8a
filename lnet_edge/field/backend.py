"""Choosing the Runner for field inference: the model file decides, ``auto`` falls back."""

from __future__ import annotations

import json
from enum import Enum, EnumMeta
from pathlib import Path
from typing import NamedTuple

from lnet_edge.artifacts import Role
from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import Runner
from lnet_edge.runners.registry import BACKENDS, backend_named, for_file


class _Registered(EnumMeta):
    """Lists "auto" and the backends registered at the time it is asked, so that a backend
    registered after this module was imported is a ``--backend`` choice too."""

    def __iter__(cls):
        return iter([cls("auto"), *(cls(name) for name in BACKENDS)])

    def __len__(cls) -> int:
        return 1 + len(BACKENDS)


class Backend(str, Enum, metaclass=_Registered):
    """``--backend``: "auto", or the name of any registered backend (runners.registry)."""

    auto = "auto"

    @classmethod
    def _missing_(cls, value):
        if value not in BACKENDS:
            return None
        member = str.__new__(cls, value)
        member._name_ = member._value_ = value
        return member


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
    backend: Backend | str,
    threads: int | None = None,
    cuda_graph: bool = False,
    precision: str | None = None,
    force_precision: bool = False,
    say=None,
) -> FieldModel:
    """What runs ``model`` (default: the shipped bundle) on ``backend`` ("auto" or a registered name).

    A bundle (a folder with bundle.json) gets the fastest safe choice on this machine
    (:mod:`lnet_edge.field.choice`). A single file: ``auto`` runs it on the first registered
    backend for its suffix that works here (``.onnx`` ONNX Runtime, ``.plan`` TensorRT, ``.pt``
    PyTorch); a ``.plan`` with no TensorRT runtime here runs on ONNX Runtime from the ONNX it was
    built from (the warning says so). An explicit backend that cannot run the file is an error,
    never rewritten.
    """
    from lnet_edge.bundle import is_bundle, read_bundle
    from lnet_edge.files import sha256_file

    name = backend.value if isinstance(backend, Enum) else str(backend)
    spec = None if name == "auto" else backend_named(name)  # an unknown name: one error listing the registered
    path = Path(model) if model else default_model()
    if is_bundle(path):
        from lnet_edge.field.choice import choose, here, open_choice

        if spec is not None and not set(Role.bundled()) & set(spec.roles):
            raise LnetError(
                f"{path} is a bundle of ONNX models, which --backend {name} does not run: give it a "
                f"{' or '.join(spec.suffixes)} file, or use --backend auto"
            )
        bundle = read_bundle(path)
        choice = choose(bundle, here(), name, precision, force_precision)
        runner = open_choice(bundle, choice, threads, cuda_graph, say)
        return FieldModel(runner, bundle.config, choice.note, choice.describe(), bundle.artifacts[choice.role].sha256)
    if precision is not None:
        raise LnetError(f"--precision {precision} chooses among a bundle's models; {path} is one model file")
    suffix = path.suffix.lower()
    if not path.is_file():
        raise LnetError(
            f"model {path} does not exist: give a bundle, .plan, .onnx or .pt (or none for the shipped model)"
        )
    if spec is None:
        fits = [s for s in BACKENDS.values() if suffix in s.suffixes] or [for_file(path)]  # for_file: unknown type
        spec = next((s for s in fits if s.unavailable() is None), fits[0])
        if spec.unavailable() and suffix == ".plan":
            return _plan_on_onnxruntime(path, threads)
    if suffix not in spec.suffixes:
        raise LnetError(
            f"backend '{spec.name}' cannot run {path.name}: use --backend {for_file(path).name} "
            f"(or auto), or give a model made for {spec.name}"
        )
    why = spec.unavailable()
    if why:
        raise LnetError(f"backend '{spec.name}' cannot run here: {why}")
    runner, config = spec.open(path, threads=threads, cuda_graph=cuda_graph)  # a plan's pre-load check speaks
    return FieldModel(runner, config, "", "", sha256_file(path))


def _plan_on_onnxruntime(plan: Path, threads: int | None) -> FieldModel:
    """A plan with no TensorRT runtime here: the ONNX it was built from, on ONNX Runtime."""
    from lnet_edge.files import sha256_file
    from lnet_edge.runners.open import open_model

    onnx = plan_fallback_onnx(plan)
    if onnx is None:
        raise LnetError(
            f"no TensorRT runtime to run {plan} and no ONNX beside it: install TensorRT or give --model X.onnx"
        )
    runner, config = open_model(onnx, threads=threads)
    note = f"no TensorRT runtime here: running {onnx.name} on ONNX Runtime instead of {plan.name}"
    return FieldModel(runner, config, note, "", sha256_file(onnx))
