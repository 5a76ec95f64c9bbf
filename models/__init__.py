"""Trained generators shipped with LiveGAN (ONNX, with model cards)."""
