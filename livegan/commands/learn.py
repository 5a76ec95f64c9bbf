"""``livegan learn``: map your own knobs, saved where ``livegan run`` finds them."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import click

from livegan.errors import UserError


@click.command()
@click.option("--in", "in_name", default=None, help="Your controller's input port (default: a virtual 'LiveGAN In' to connect it to).")
@click.option("--api", type=click.Choice(["jack", "alsa", "coremidi", "winmm"]), default=None, help="rtmidi API.")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="Model whose tracks get mute switches (default: the shipped one).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None, help="Where to save (default: your config directory).")
@click.option("--wait", type=click.FloatRange(1, 600), default=15.0, show_default=True, help="Seconds to wait for each control before skipping it.")
def learn(in_name: str | None, api: str | None, model: Path | None, out_path: Path | None, wait: float) -> None:
    """Move a knob for each control as it is named; the map is saved for 'livegan run'."""
    from livegan.model.engine import load_model
    from livegan.model.locate import model_path
    from livegan.mood.controls import (
        load_control_map,
        save_control_map,
        user_controls_path,
    )
    from livegan.mood.learn import Learner
    from livegan.ports.midi import open_input

    tracks = [t.name for t in load_model(model_path(model)).info.tracks]
    learner = Learner(tracks)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    port = open_input(in_name or "LiveGAN In", api, lambda msg, arrival: inbox.put(msg), virtual=in_name is None)
    out_path = out_path or user_controls_path()
    try:
        click.echo(f"Listening on '{port.name}'. Move each control when it is named (or wait {wait:g} s to skip it).")
        while (target := learner.current) is not None:
            click.echo(f"  {learner.label(target)} ... ", nl=False)
            deadline = time.monotonic() + wait
            while learner.current == target:
                try:
                    msg = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    learner.skip()
                    click.echo("skipped")
                    break
                if learner.feed(msg) == target:
                    click.echo(f"CC {learner.assigned[target]}")
    finally:
        port.close()
    controls = learner.control_map(load_control_map())
    try:
        save_control_map(controls, out_path)
    except OSError as exc:
        raise UserError(f"cannot write '{out_path}' ({exc.strerror}): pass --out with a writable path") from None
    click.echo(f"Saved to {out_path}; 'livegan run' uses it from now on (or pass --controls FILE).")
