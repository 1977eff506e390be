"""Training on PyTorch Lightning: the LightningModule, per-source DataModules, CLI wiring, the demo."""
