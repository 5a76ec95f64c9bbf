"""Mood presets and control maps shipped with LiveGAN (TOML)."""
