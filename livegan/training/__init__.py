"""Torch side: datasets, networks, training and ONNX export. Never imported by the live path."""
