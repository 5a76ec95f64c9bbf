# Put first on PYTHONPATH of a daemon under test: any `import torch` on the live path fails loudly.
raise ImportError("torch was imported on the live path (livegan run must not import torch)")
