"""The ``livegan`` command: one click group whose subcommands import their heavy modules lazily.

``livegan run`` must start in about a second and never import torch, so each
subcommand lives in its own module and is imported only when it is invoked.
A :class:`~livegan.errors.UserError` from any of them prints one line and exits 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from livegan.errors import UserError

# name -> "module:attribute" of a click command; imported only when invoked.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("livegan.commands.run:run", "Stream generated bars to a MIDI port, on time, until Ctrl-C."),
    "ports": ("livegan.commands.ports:ports", "List MIDI input and output ports."),
    "moods": ("livegan.commands.ports:moods", "List mood presets and the control map."),
    "render": ("livegan.commands.render:render", "Render a piece to MIDI, WAV (FluidSynth) and a piano-roll PNG."),
    "eval": ("livegan.commands.eval:eval_command", "Measure a model: MuseGAN metrics, mood control, originality."),
    "learn": ("livegan.commands.learn:learn", "Map your knobs: move one, and it controls what you chose."),
    "data": ("livegan.commands.data:data", "Build training datasets (music21 corpus, LPD-5, MIDI folders)."),
    "train": ("livegan.commands.train:train", "Train a mood-conditioned generator (needs torch)."),
    "export": ("livegan.commands.export:export", "Export a checkpoint to an ONNX model the daemon loads."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, help_text = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or "a module"
            return _missing_extra(name, help_text, missing)
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _missing_extra(name: str, help_text: str, missing: str) -> click.Command:
    """A stand-in command that explains which optional dependency to install."""

    @click.command(name=name, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def stand_in(args: tuple[str, ...]) -> None:
        extra = "train" if missing.split(".")[0] in {"torch", "onnx", "music21", "tqdm"} else "render"
        raise UserError(f"'livegan {name}' needs the Python package '{missing}': pip install 'livegan[{extra}]'")

    return stand_in


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Debug logs (-v).")
@click.version_option(package_name="livegan")
def cli(verbose: int) -> None:
    """LiveGAN: a mood-conditioned multitrack generator played live as MIDI."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "livegan: %(message)s",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group, turning a UserError into one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="livegan", standalone_mode=False)
    except UserError as exc:
        click.echo(f"livegan: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
