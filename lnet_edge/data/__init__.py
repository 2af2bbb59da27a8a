"""Readers for landslide image/mask sets, training tiles, the train/validation split and
augmentations. NumPy and OpenCV only (no torch)."""
