"""The layers: a folder each, imports that only point down, and a live path that loads only what it plays with."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top; a module may import its own layer and the layers before it, never one after.
# evaluation sits above offline: it measures renders, which are the daemon's own path on a fake clock.
LAYERS = ["errors", "threads", "shipped", "model", "mood", "music", "generation", "ports", "timing", "live", "offline",
          "evaluation", "training", "export", "commands", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
PEERS: set[frozenset[str]] = set()


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "livegan" or len(parts) < 2:
        return None
    return parts[1]


def package_files() -> list[tuple[str, Path]]:
    files = [(f"livegan.{'.'.join(p.relative_to(ROOT / 'livegan').with_suffix('').parts)}", p)
             for p in (ROOT / "livegan").rglob("*.py")]
    files += [(f"livegan.export.{'.'.join(p.relative_to(ROOT / 'export').with_suffix('').parts)}", p)
              for p in (ROOT / "export").rglob("*.py")]
    return [(m.removesuffix(".__init__"), p) for m, p in files]


def imports_of(path: Path, package: str) -> list[str]:
    """Every livegan module ``path`` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names if node.module in ("livegan", "livegan.training")]
    return [m for m in found if m.startswith("livegan.")]


def test_every_module_lives_in_a_layer_folder():
    loose = sorted(p.name for p in (ROOT / "livegan").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "cli.py", "errors.py", "shipped.py", "threads.py"]
    folders = {p.parent.relative_to(ROOT / "livegan").parts[0] for p in (ROOT / "livegan").glob("*/*.py")}
    assert folders == set(LAYERS) - {"errors", "threads", "shipped", "cli", "export"}  # export/ is the top-level folder


def test_imports_only_point_down_the_layers():
    upward = []
    for module, path in package_files():
        here = layer_of(module)
        if here in (None, "__init__", "__main__"):
            continue
        for target in imports_of(path, module):
            there = layer_of(target)
            if there in (None, here):
                continue
            if frozenset({here, there}) in PEERS or RANK[there] > RANK[here]:
                upward.append(f"{module} imports {target} ({here} -> {there})")
    assert upward == []


@pytest.mark.parametrize("entry", ["livegan.live.session", "livegan.commands.run"])
def test_importing_the_live_session_loads_no_evaluation_training_export_offline_matplotlib_or_torch(entry):
    code = ("import sys, importlib\n"
            f"importlib.import_module({entry!r})\n"
            "bad = ('livegan.evaluation', 'livegan.training', 'livegan.export', 'livegan.offline', 'matplotlib', 'torch', 'music21')\n"
            "print(sorted(m for m in sys.modules if m.startswith(bad)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
