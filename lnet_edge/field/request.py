"""Which model a field run opens and how (``ModelRequest``): made once from the command line,
opened in this process or sent to every cluster worker to open there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    """The model of a run: ``model`` (a bundle folder, .plan, .onnx or .pt; None: the shipped
    bundle) on ``backend`` ("auto" or a registered backend's name), with the runner's settings.
    Frozen and hashable: a cluster worker keeps one opened model per request."""

    model: Path | None = None
    backend: str = "auto"
    threads: int | None = None  # CPU threads for ONNX Runtime
    precision: str | None = None  # with a bundle: this precision instead of the automatic choice
    force_precision: bool = False  # run an int8 model that failed its accuracy gate
    cuda_graph: bool = False

    def open(self, say=None):
        """The opened model (field.backend.FieldModel); ``say`` gets what the opening tells the user."""
        from lnet_edge.field import backend as field_backend

        return field_backend.open_field_model(
            self.model,
            self.backend,
            self.threads,
            self.cuda_graph,
            self.precision,
            self.force_precision,
            say=say,
        )

    def model_info(self, opened, base: dict | None = None) -> dict:
        """What a scene's summary says of the model ``opened`` for this request (after ``base``,
        by default the model as the user named it)."""
        named = {"model": str(self.model or "shipped default")} if base is None else base
        return {
            **named,
            "backend": opened.runner.name,
            "precision": opened.runner.precision,
            "choice": opened.choice or None,
            "model_sha256": opened.sha256,
        }

    def recorded_info(self, summary: dict, base: dict | None = None) -> dict:
        """The model's description as a scene's summary records it: what ``model_info`` gave the
        process that mapped the scene (a cluster worker, which opened the model itself)."""
        named = {"model": str(self.model or "shipped default")} if base is None else base
        return {**named, **{k: summary.get(k) for k in ("backend", "precision", "choice", "model_sha256")}}
