"""Training of L-Net and its ablations (needs torch)."""
