"""Field inference on whole scenes: tiling, blending, windowed I/O, polygons, quicklook.

``run_scene``/``run_scenes`` in :mod:`lnet_edge.field.pipeline` orchestrate; every other module
is a small pure function set with no backend knowledge.
"""
