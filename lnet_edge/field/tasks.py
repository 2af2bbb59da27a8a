"""What travels between the client of ``infer --cluster`` (field/cluster.py) and its workers
(field/workers.py): the run every task shares (``ClusterJob``), the scene a task maps
(``SceneTask``), and what a task returns: a scene's ``SceneResult`` (field/summary.py), or a
band's ``BandResult``. All are plain frozen dataclasses: Dask pickles them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.field.options import InferOptions
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.summary import SceneResult


@dataclass(frozen=True)
class ClusterJob:
    """What every task of a run shares: the model each worker opens, the options, the model's
    description for the summaries, and the names of the run's tile-count topic (None: no counts
    are sent) and of its stop Event (None: the run cannot be stopped)."""

    model: ModelRequest
    options: InferOptions
    model_info: dict
    topic: str | None = None
    stop: str | None = None


@dataclass(frozen=True)
class SceneTask:
    """A scene of the run (its absolute path) and where its outputs go: ``out / name``."""

    scene: Path
    out: Path
    name: str

    def failed(self, message: str, status: str = "failed") -> SceneResult:
        """The result of a scene that has no outputs from this task (``status``: failed or stopped)."""
        return SceneResult(self.scene, status, message, self.out / self.name)


@dataclass(frozen=True)
class BandResult:
    """What a band task of a large scene did: ``status`` "done" (its band file is written), "skip"
    (the scene's outputs are complete already), "error" or "stopped" (``message`` says why)."""

    status: str
    message: str = ""
