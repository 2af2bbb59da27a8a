"""Calibration stage: int8 models (TensorRT QDQ, ONNX Runtime CPU), the TensorRT calibration
cache, and the accuracy gate that every artifact must pass."""
