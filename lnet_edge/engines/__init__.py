"""TensorRT engines: build a plain plan plus its JSON manifest, check both before loading.

``plan_from_onnx`` (build.py) makes ``NAME.plan`` + ``NAME.plan.json``; ``check_plan`` (check.py)
compares a manifest with the installed TensorRT and the current GPU; ``cached_plan`` (cache.py)
builds on first use. The same code serves ``tensorrt`` and ``tensorrt_rtx`` (flavour.py).
"""
