"""lnet-edge: L-Net landslide mapping from PyTorch training to the field."""

__version__ = "0.1.0"
