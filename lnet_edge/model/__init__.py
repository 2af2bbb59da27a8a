"""The L-Net network, its configuration and checkpoints (needs torch)."""
