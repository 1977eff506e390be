"""Analyses of trained trajectory models: RoAd fine-tuning to a new data source and per-layer RoPE
probing (the model-specific parts; the pure-tensor pieces live in :mod:`drive.rope.variants`)."""
