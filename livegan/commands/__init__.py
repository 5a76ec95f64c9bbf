"""Subcommands of the livegan CLI, one module each, imported lazily."""
