"""Export stage: checkpoint -> fp32 ONNX (checked against PyTorch) -> fp16 ONNX."""
