"""``plan_from_onnx``: an ONNX model in, ``NAME.plan`` (plain TensorRT plan) + ``NAME.plan.json`` out.

Two precision paths, chosen by what the installed TensorRT supports:

* strongly typed (TensorRT >= 10.12 and TensorRT-RTX): the precision is the ONNX's own, fp16
  types or Q/DQ nodes; no builder precision flags exist or are needed;
* builder flags (TensorRT < 10.12, e.g. JetPack 6's 10.3): an fp32 ONNX plus the FP16 flag, or
  the INT8 flag plus a calibration cache (or a Q/DQ ONNX).

Any option the installed TensorRT cannot honour is refused with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lnet_edge import __version__
from lnet_edge.artifacts import check_targets, made_by_lnet_edge
from lnet_edge.engines.flavour import RTX_DEFAULT_TARGETS, Capabilities, Flavour, capabilities, load
from lnet_edge.engines.manifest import Manifest, manifest_path, this_platform
from lnet_edge.engines.onnx_info import OnnxInfo, read_onnx
from lnet_edge.engines.options import BuildOptions, HardwareCompat, Precision
from lnet_edge.engines.trt_glue import make_logger, progress_monitor
from lnet_edge.errors import LnetError
from lnet_edge.files import StagedFiles, part_path, sha256_file

HARDWARE_COMPAT_LEVELS = {HardwareCompat.ampere_plus: "AMPERE_PLUS", HardwareCompat.same_cc: "SAME_COMPUTE_CAPABILITY"}

Progress = Callable[[str, str, int, int], None]  # (event, phase, step, steps)


def plan_from_onnx(
    onnx_path: Path,
    out: Path,
    options: BuildOptions | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> Path:
    """Build ``out`` (a plain plan) and ``out``.json (its manifest); return ``out``.

    Both files are written under this run's ``.part`` names and renamed only after the build
    succeeded. Files at either name that lnet-edge did not write are refused before the build,
    unless ``overwrite``.
    """
    out, options = Path(out), options or BuildOptions()
    info = read_onnx(onnx_path)
    check_targets([out, manifest_path(out)], overwrite)
    if info.defaulted and warn:
        warn(info.defaults_note())
    trt, flavour = load(options.flavour)
    logger = make_logger(trt)
    builder = trt.Builder(logger)
    caps = capabilities(trt, flavour, getattr(builder, "num_DLA_cores", 0))
    precision = decide_precision(options, info, caps)
    refuse_unsupported(options, caps, precision)
    options = options.with_(precision=precision, flavour=flavour)

    network, _parser = _parse(trt, builder, logger, info, caps.strongly_typed)  # parser owns the weights
    config = _configure(trt, builder, network, options, caps, info)
    on_gpu = dla_fallback_layers(network, config) if options.dla_core is not None else []
    if on_gpu and warn:
        warn(
            f"{len(on_gpu)} of {network.num_layers} layers cannot run on DLA and fall back to the GPU: {', '.join(on_gpu[:8])}"
        )
    monitor = progress_monitor(trt, progress) if progress and caps.progress_monitor else None
    if monitor is not None:
        config.progress_monitor = monitor
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise LnetError(f"TensorRT {caps.version} could not build {info.path}: {logger.summary()}")
    _save_timing_cache(config, options, caps)

    with StagedFiles(out.parent, overwrite, made_by_lnet_edge) as stage:
        tmp_plan, tmp_manifest = stage.part(out.name), stage.part(manifest_path(out).name)
        tmp_plan.write_bytes(memoryview(serialized))  # exactly what TensorRT serialised, no prefix
        manifest = Manifest(
            flavour=flavour.value,
            trt_version=caps.version,
            precision=precision.value,
            strongly_typed=caps.strongly_typed,
            targets=_targets(options, flavour),
            build_gpu=_build_gpu(flavour),
            options=options,
            source_onnx=str(Path(onnx_path).resolve()),
            onnx_sha256=info.sha256,
            calibration_sha256=_calibration_hash(info, options),
            config=info.config,
            network=network_summary(network),
            plan_bytes=tmp_plan.stat().st_size,
            plan_sha256=sha256_file(tmp_plan),
            lnet_edge_version=__version__,
            build_seconds=round(seconds, 3),
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            metadata_defaulted=info.defaulted,
            platform=this_platform(),
            extra={"dla_gpu_fallback_layers": on_gpu} if options.dla_core is not None else {},
        )
        tmp_manifest.write_text(manifest.to_json())
        stage.commit()
    return out


def decide_precision(options: BuildOptions, info: OnnxInfo, caps: Capabilities) -> Precision:
    """The precision to build, or an error when the ONNX and the installed TensorRT cannot give it."""
    content = Precision(info.content_precision)
    wanted = options.precision or Precision(info.metadata_precision or content.value)
    if wanted is Precision.int8 and content is not Precision.int8 and options.calibration_cache is None:
        raise LnetError(
            f"int8 without calibration: {info.path} is an {content.value} ONNX with no Q/DQ nodes and no "
            f"--calibration-cache was given; give the int8 QDQ ONNX from 'lnet-edge calibrate'"
            + ("" if caps.strongly_typed else " or its calibration cache (--calibration-cache)")
        )
    if caps.strongly_typed:
        if options.calibration_cache is not None:
            raise LnetError(
                f"{caps.flavour.value} {caps.version} builds strongly typed networks and cannot use a calibration "
                f"cache: give the int8 QDQ ONNX from 'lnet-edge calibrate' instead of --calibration-cache"
            )
        if wanted is not content:
            raise LnetError(
                f"{caps.flavour.value} {caps.version} builds strongly typed networks, so the precision is the "
                f"ONNX's own: {info.path} is {content.value}, not {wanted.value}; give the {wanted.value} ONNX "
                f"(fp16: 'lnet-edge export --fp16'; int8: 'lnet-edge calibrate') or drop --precision"
            )
    elif content is not Precision.fp32 and wanted is not content:
        raise LnetError(
            f"{info.path} is already {content.value}: build it as {content.value} or start from the fp32 ONNX"
        )
    return wanted


def refuse_unsupported(options: BuildOptions, caps: Capabilities, precision: Precision) -> None:
    """Raise for every option the installed TensorRT cannot honour (never drop one silently)."""
    name = f"{caps.flavour.value} {caps.version}"
    problems = []
    if options.dla_core is not None:
        if not caps.dla:
            problems.append(
                f"--dla-core {options.dla_core}: {name} sees no DLA core here (DLA exists only on Jetson Xavier/Orin)"
            )
        elif precision is Precision.fp32:
            problems.append("--dla-core: DLA runs fp16 or int8 only; add --precision fp16 or int8")
    if options.dla_core is not None and not options.profile.is_static():
        problems.append(
            f"--dla-core {options.dla_core}: DLA needs a static profile (min = opt = max) and this one is "
            f"{options.profile.describe()}; give one batch and one tile, e.g. --batch {options.profile.opt_batch} "
            f"--tile {options.profile.opt_tile}"
        )
    if options.hardware_compat is not HardwareCompat.none:
        level = HARDWARE_COMPAT_LEVELS[options.hardware_compat]
        if not caps.hardware_compatibility:
            problems.append(
                f"--hardware-compat {options.hardware_compat.value}: {name} does not support hardware-compatible "
                "plans"
                + (
                    " (TensorRT-RTX: use --target for the compute capabilities)"
                    if caps.target_compute_capabilities
                    else ""
                )
            )
        elif caps.jetson:
            problems.append(
                f"--hardware-compat {options.hardware_compat.value}: hardware-compatible plans are not supported on "
                "Jetson; build on the device without --hardware-compat"
            )
        elif level not in caps.hardware_compat_levels:
            problems.append(
                f"--hardware-compat {options.hardware_compat.value}: {name} has no {level} level "
                f"(it has {', '.join(caps.hardware_compat_levels) or 'none'})"
            )
    if options.version_compatible and not caps.version_compatible:
        problems.append(f"--version-compatible: {name} cannot build version-compatible plans")
    if options.timing_cache is not None and not caps.timing_cache:
        problems.append(f"--timing-cache: {name} has no timing cache (TensorRT-RTX tunes at run time instead)")
    if options.targets and not caps.target_compute_capabilities:
        problems.append(
            f"--target {','.join(options.targets)}: only TensorRT-RTX builds for other compute capabilities; "
            f"full TensorRT builds for the GPU it runs on"
        )
    if problems:
        raise LnetError("; ".join(problems))


def dla_fallback_layers(network, config) -> list[str]:
    """Names of the layers that cannot run on the DLA core (``IBuilderConfig.can_run_on_DLA``):
    with GPU fallback they run on the GPU, without it the build fails; either way, said."""
    return [
        network.get_layer(i).name for i in range(network.num_layers) if not config.can_run_on_DLA(network.get_layer(i))
    ]


def network_summary(network) -> dict:
    """Layer count, layer types and output tensor types of the parsed network (precision evidence)."""
    types, dtypes = Counter(), Counter()
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        types[layer.type.name] += 1
        for j in range(layer.num_outputs):
            dtypes[layer.get_output(j).dtype.name] += 1
    return {
        "layers": network.num_layers,
        "layer_types": dict(sorted(types.items())),
        "tensor_types": dict(sorted(dtypes.items())),
    }


def _parse(trt, builder, logger, info: OnnxInfo, strongly_typed: bool):
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(info.path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise LnetError(f"TensorRT cannot parse {info.path}: {errors[:500]}")
    return network, parser


def _configure(trt, builder, network, options: BuildOptions, caps: Capabilities, info: OnnxInfo):
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    image = network.get_input(0)
    channels = image.shape[1] if image.shape[1] > 0 else info.config.in_channels
    profile.set_shape(image.name, *options.profile.shapes(channels))
    config.add_optimization_profile(profile)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # layer precisions in inspect
    if options.workspace_mib:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    if options.opt_level is not None:
        config.builder_optimization_level = options.opt_level
    if options.timing_cache is not None:
        blob = options.timing_cache.read_bytes() if options.timing_cache.is_file() else b""
        config.set_timing_cache(config.create_timing_cache(blob), False)
    if options.hardware_compat is not HardwareCompat.none:  # the level's presence was checked before
        level = HARDWARE_COMPAT_LEVELS[options.hardware_compat]
        config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel, level)
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    if options.targets:
        config.num_compute_capabilities = len(options.targets)
        for i, cc in enumerate(options.targets):
            member = getattr(trt.ComputeCapability, "SM" + cc.replace(".", ""), None)
            if member is None or not config.set_compute_capability(member, i):
                known = [m[2:] for m in trt.ComputeCapability.__members__ if m.startswith("SM")]
                raise LnetError(
                    f"--target {cc}: {caps.flavour.value} {caps.version} builds for {', '.join(known)} (as 8.6, 12.0 ...)"
                )
    if not caps.strongly_typed:
        _precision_flags(trt, config, options, info)
    if options.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = options.dla_core
        if options.gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    return config


def _precision_flags(trt, config, options: BuildOptions, info: OnnxInfo) -> None:
    """The pre-10.12 path: FP16/INT8 builder flags, INT8 scales from a calibration cache."""
    from lnet_edge.engines.trt_glue import cache_calibrator

    if options.precision in (Precision.fp16, Precision.int8):
        config.set_flag(trt.BuilderFlag.FP16)
    if options.precision is Precision.int8:
        config.set_flag(trt.BuilderFlag.INT8)
        if info.content_precision != "int8":  # Q/DQ ONNX carry their own scales
            config.int8_calibrator = cache_calibrator(trt, options.calibration_cache)


def _save_timing_cache(config, options: BuildOptions, caps: Capabilities) -> None:
    if options.timing_cache is None:
        return
    blob = memoryview(config.get_timing_cache().serialize())
    tmp = part_path(options.timing_cache)
    try:
        tmp.write_bytes(blob)
        os.replace(tmp, options.timing_cache)
    finally:
        tmp.unlink(missing_ok=True)


def _targets(options: BuildOptions, flavour: Flavour) -> tuple[str, ...]:
    if flavour is Flavour.tensorrt_rtx:
        return tuple(options.targets) or RTX_DEFAULT_TARGETS
    gpu = _build_gpu(flavour)
    return (gpu["compute_capability"],) if gpu else ()


def _build_gpu(flavour: Flavour) -> dict | None:
    """The GPU a full-TensorRT build ran on (it builds for that GPU); None for an RTX AOT build."""
    if flavour is Flavour.tensorrt_rtx:
        return None
    from lnet_edge.cuda import device_count, device_info

    if not device_count():
        return None
    dev = device_info(0)
    return {"name": dev.name, "compute_capability": dev.compute_capability}


def _calibration_hash(info: OnnxInfo, options: BuildOptions) -> str | None:
    if options.calibration_cache is not None:
        return sha256_file(options.calibration_cache)
    return info.calibration_sha256
