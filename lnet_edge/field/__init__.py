"""Field inference on whole scenes: tiling, blending, windowed I/O, polygons, quicklook.

``infer_scenes`` in :mod:`lnet_edge.field.run` is ``lnet-edge infer`` as one call;
``run_scene``/``run_scenes`` in :mod:`lnet_edge.field.pipeline` orchestrate one scene or a batch,
with the options of :mod:`lnet_edge.field.options`. Every other module does one job (grid, reader,
strips, sinks, summary, cluster tasks) with no backend knowledge.
"""
