"""Loading a plan: the IRuntime a plan needs, deserialisation after TensorRT's own header check
(TensorRT-RTX), and TensorRT-RTX's runtime configuration (runtime cache, CUDA-graph strategy).
Used by the TensorRT runner and the engine inspector."""

from __future__ import annotations

from pathlib import Path

from lnet_edge.engines.flavour import load
from lnet_edge.engines.manifest import Manifest
from lnet_edge.engines.trt_glue import make_logger
from lnet_edge.errors import LnetError


def make_runtime(trt, manifest: Manifest, logger):
    """An IRuntime for ``manifest``'s plan. A version-compatible plan built without
    EXCLUDE_LEAN_RUNTIME embeds the lean runtime, host code that TensorRT loads only when
    ``engine_host_code_allowed`` is set (TensorRT's version-compatibility guide)."""
    runtime = trt.Runtime(logger)
    if manifest.options.version_compatible:
        runtime.engine_host_code_allowed = True
    return runtime


def header_validity(trt, runtime, data: bytes) -> tuple[str, list[str]]:
    """TensorRT-RTX's verdict on a plan's header (``Runtime.engine_header_size`` and
    ``get_engine_validity``, documented since RTX 1.1): ("valid" | "suboptimal" | "invalid", the
    names of the diagnostic flags set). ``data``: the plan, or at least its header."""
    validity, diagnostics = runtime.get_engine_validity(data[: int(runtime.engine_header_size)])
    flags = trt.EngineInvalidityDiagnostics.__members__.items()
    return validity.name.lower(), [name for name, member in flags if int(diagnostics) & int(member)]


def deserialize(plan: Path, manifest: Manifest):
    """(trt module, ICudaEngine, IRuntime) for a plan that passed ``check_plan`` (keep the runtime alive)."""
    trt, _ = load(manifest.flavour)
    logger = make_logger(trt)
    runtime = make_runtime(trt, manifest, logger)
    data = Path(plan).read_bytes()
    if hasattr(runtime, "get_engine_validity"):  # TensorRT-RTX asks the plan's header first
        verdict, why = header_validity(trt, runtime, data)
        if verdict == "invalid":
            raise LnetError(
                f"{manifest.flavour} {trt.__version__} rejects {plan}: {', '.join(why) or logger.summary()}"
            )
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise LnetError(f"{manifest.flavour} {trt.__version__} cannot load {plan}: {logger.summary()}")
    return trt, engine, runtime


def runtime_cache_path(plan: Path) -> Path:
    """Where a TensorRT-RTX plan's runtime cache (its JIT-compiled kernels) is kept: beside it."""
    return Path(plan).with_name(Path(plan).name + ".rtcache")


def rtx_context(trt, engine, plan: Path, cuda_graph: bool):
    """A TensorRT-RTX execution context made through an IRuntimeConfig: the runtime cache loaded
    from beside the plan (kernels are not JIT-compiled again at every start) and, with
    ``cuda_graph``, RTX's own whole-graph capture (manual stream capture would need user-managed
    allocation and ``is_stream_capturable``). Returns (context, runtime config, cache)."""
    config = engine.create_runtime_config()
    cache = config.create_runtime_cache()
    path = runtime_cache_path(plan)
    if path.is_file():
        cache.deserialize(path.read_bytes())  # False on a mismatch (other GPU/driver): then it starts empty
    config.set_runtime_cache(cache)
    if cuda_graph:
        config.cuda_graph_strategy = trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE
    return engine.create_execution_context(config), config, cache


def save_runtime_cache(cache, plan: Path) -> None:
    """Write the runtime cache beside the plan (temporary name, then rename); best effort."""
    import os

    from lnet_edge.files import part_path

    path = runtime_cache_path(plan)
    tmp = part_path(path)
    try:
        tmp.write_bytes(memoryview(cache.serialize()))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
