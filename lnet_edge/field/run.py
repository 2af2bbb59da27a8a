"""``lnet-edge infer`` as one library call: ``infer_scenes`` maps scene files and folders into an
output folder, in this process or on a Dask cluster (field/cluster.py), and tells a ``RunView``
what happens (field/view.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lnet_edge.field.io import list_scenes
from lnet_edge.field.options import InferOptions
from lnet_edge.field.pipeline import run_scenes
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.summary import SceneResult
from lnet_edge.field.view import RunView


def infer_scenes(
    inputs: list[Path],
    out: Path,
    model: ModelRequest,
    options: InferOptions,
    cluster: str | None = None,
    view: RunView | None = None,
) -> list[SceneResult]:
    """Map every scene of ``inputs`` (files, or folders of scenes) into ``OUT/NAME/``; one
    scene's failure never stops the others. ``cluster``: local:N or tcp://HOST:PORT, every scene
    a task on Dask workers, which open ``model`` themselves (field/cluster.py)."""
    view = view or RunView()
    scenes = list_scenes(inputs)
    named = {"model": str(model.model or "shipped default")}
    if cluster:
        return _on_cluster(scenes, out, cluster, model, options, named, view)
    opened = model.open(say=view.say)
    view.opened(opened.warning, opened.choice)
    with opened.runner:
        return run_scenes(
            scenes,
            out,
            opened.runner,
            opened.config,
            options,
            model.model_info(opened, named),
            view.scene_started,
            view.tiles_done,
            view.warn,
        )


def _on_cluster(scenes, out: Path, cluster: str, model: ModelRequest, options, named: dict, view) -> list:
    """Every scene a task on Dask workers; the model goes to them by its absolute path."""
    from lnet_edge.field import cluster as dask_cluster

    spec = dask_cluster.parse_cluster(cluster)
    view.cluster_started(len(scenes))
    if model.model is not None:
        model = replace(model, model=model.model.resolve())
    return dask_cluster.run_on_cluster(
        scenes,
        out,
        spec,
        model,
        options,
        named,
        say=view.say,
        on_scene=view.scene_done,
        on_tiles=view.cluster_tiles,
        warn=view.warn,
    )
