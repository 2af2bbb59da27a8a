"""One Runner interface; one small module per backend (torch, onnxrt, tensorrt)."""
