"""``lnet-edge infer`` as one library call: ``infer_scenes`` maps scene files and folders into an
output folder, in this process or on a Dask cluster (field/cluster.py), and tells a ``RunView``
what happens (field/view.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.field import outputs
from lnet_edge.field.change_map import ChangeOptions
from lnet_edge.field.io import list_scenes
from lnet_edge.field.options import InferOptions
from lnet_edge.field.pair_run import BEFORE_DIR, check_scenes, map_pair, map_pairs, same_scene
from lnet_edge.field.pairing import Pair
from lnet_edge.field.pipeline import run_scenes
from lnet_edge.field.request import ModelRequest
from lnet_edge.field.summary import SceneResult
from lnet_edge.field.tasks import SceneTask
from lnet_edge.field.view import RunView


def infer_scenes(
    inputs: list[Path],
    out: Path,
    model: ModelRequest,
    options: InferOptions,
    cluster: str | None = None,
    view: RunView | None = None,
    pairs: list[Pair] | None = None,
    change: ChangeOptions | None = None,
) -> list[SceneResult]:
    """Map every scene of ``inputs`` (files, or folders of scenes) into ``OUT/NAME/``; one
    scene's failure never stops the others. ``cluster``: local:N or tcp://HOST:PORT, every scene
    a task on Dask workers, which open ``model`` themselves (field/cluster.py).

    ``pairs`` (then ``inputs`` is ignored): before/after pairs, each after scene mapped into
    ``OUT/NAME/`` with its before scene and the change between them (field/pair_run.py); on a
    cluster, both scenes of every pair are tasks on the workers and the change sets are made here."""
    view = view or RunView()
    scenes = [p.after for p in pairs] if pairs else list_scenes(inputs)
    named = {"model": str(model.model or "shipped default")}
    if cluster:
        if pairs:
            return _pairs_on_cluster(pairs, out, cluster, model, options, change or ChangeOptions(), named, view)
        return _on_cluster(scenes, out, cluster, model, options, named, view)
    opened = model.open(say=view.say)
    view.opened(opened.warning, opened.choice)
    with opened.runner:
        if pairs:
            info = model.model_info(opened, named)
            change = change or ChangeOptions()
            return map_pairs(
                pairs,
                out,
                opened.runner,
                opened.config,
                options,
                change,
                info,
                view.scene_started,
                view.tiles_done,
                view.warn,
            )
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


def _on_cluster(scenes, out: Path, cluster: str, model: ModelRequest, options, named: dict, view, **pairs) -> list:
    """Every scene a task on Dask workers; the model goes to them by its absolute path.
    ``pairs``: run_on_cluster's ``names``, ``also`` (whose tasks the scene count includes) and
    ``finish``, for before/after pairs."""
    from lnet_edge.field import cluster as dask_cluster

    spec = dask_cluster.parse_cluster(cluster)
    view.cluster_started(len(scenes) + len(pairs.get("also", ())))
    return dask_cluster.run_on_cluster(
        scenes,
        out,
        spec,
        _resolved(model),
        options,
        named,
        say=view.say,
        on_scene=view.scene_done,
        on_tiles=view.cluster_tiles,
        warn=view.warn,
        **pairs,
    )


def _resolved(model: ModelRequest) -> ModelRequest:
    return replace(model, model=model.model.resolve()) if model.model is not None else model


def _pairs_on_cluster(
    pairs: list[Pair], out: Path, cluster: str, model: ModelRequest, options, change: ChangeOptions, named: dict, view
) -> list[SceneResult]:
    """Both scenes of every pair as tasks on Dask workers (the before scene into OUT/NAME/before/),
    then, once they are mapped and still holding OUT, each pair's change set on this client from
    what the workers wrote; the catalogue is rewritten with the change sets. A pair that cannot
    be compared is refused before its scenes are sent."""
    model = _resolved(model)
    names = outputs.scene_folders([p.after for p in pairs], out)
    refused = {p: why for p in pairs if (why := _refusal(p, change))}
    accepted = [p for p in pairs if p not in refused]
    befores = [SceneTask(p.before, out / names[p.after], BEFORE_DIR) for p in accepted if not same_scene(p)]
    afters = list(dict.fromkeys(p.after for p in accepted))

    def finish(mapped: dict[SceneTask, SceneResult]) -> list[SceneResult]:
        view.say(f"comparing {len(accepted)} pairs on this client")
        results = []
        for pair in pairs:
            folder = out / names[pair.after]
            if pair in refused:
                results.append(SceneResult(pair.after, "failed", refused[pair], folder))
                continue
            after = mapped.get(SceneTask(pair.after, out, folder.name))
            info = model.recorded_info((after.summary if after else None) or {}, named)
            results.append(map_pair(pair, folder, _mapped_scene(mapped), options, change, info, view.warn))
        return results

    return _on_cluster(afters, out, cluster, model, options, named, view, names=names, also=befores, finish=finish)


def _refusal(pair: Pair, change: ChangeOptions) -> str | None:
    """Why the pair's scenes cannot be compared (pair_run.check_scenes), or None."""
    try:
        check_scenes(pair, change.pixel_pairs)
    except LnetError as exc:
        return str(exc)
    return None


def _mapped_scene(mapped: dict[SceneTask, SceneResult]):
    """pair_run.map_pair's ``scene(path, out, name)``: the result the cluster gave that scene."""

    def scene(path: Path, where: Path, name: str) -> SceneResult:
        task = SceneTask(path, where, name)
        return mapped.get(task) or task.failed("the cluster returned no result for it")

    return scene
