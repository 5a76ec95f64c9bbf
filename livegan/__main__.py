"""``python -m livegan`` runs the CLI."""

from livegan.cli import main

if __name__ == "__main__":  # a worker process (spawn) imports this module too, and must not run the CLI
    main()
