"""``python -m livegan`` runs the CLI."""

from livegan.cli import main

main()
