"""``livegan ports`` and ``livegan moods``: what is there to connect to, and what the knobs do."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--api", type=click.Choice(["jack", "alsa", "coremidi", "winmm"]), default=None,
              help="rtmidi API (default: on Linux ALSA if its sequencer exists, else JACK if a server answers).")
def ports(api: str | None) -> None:
    """List MIDI input and output ports."""
    from livegan.ports.midi import list_ports, pick_api

    why = "asked for with --api"
    if api is None:
        api, why = pick_api()
    inputs, outputs = list_ports(api)
    click.echo(f"API: {api} ({why})")
    click.echo("Inputs (LiveGAN can listen to these with --in NAME):")
    for name in inputs:
        click.echo(f"  {name}")
    if not inputs:
        click.echo("  (none)")
    click.echo("Outputs (LiveGAN can play to these with --existing --port NAME):")
    for name in outputs:
        click.echo(f"  {name}")
    if not outputs:
        click.echo("  (none)")


@click.command()
@click.option("--moods", "moods_file", type=click.Path(path_type=Path), default=None, help="Mood presets TOML.")
@click.option("--controls", "controls_file", type=click.Path(path_type=Path), default=None, help="Control map TOML.")
def moods(moods_file: Path | None, controls_file: Path | None) -> None:
    """List mood presets with their program numbers, and the control map."""
    from livegan.mood.controls import load_control_map
    from livegan.mood.presets import load_moods

    presets = load_moods(moods_file)
    controls = load_control_map(controls_file)
    click.echo("Program  Mood              Valence  Arousal  Velocity  Swing  Legato")
    for i, m in enumerate(presets):
        click.echo(f"{i + 1:7d}  {m.name:<16s}  {m.valence:+7.2f}  {m.arousal:+7.2f}  {m.velocity:8d}  {m.swing:5.2f}  {m.legato:6.2f}")
    channel = "all channels" if controls.channel is None else f"channel {controls.channel + 1}"
    click.echo(f"\nControls ({channel}):")
    if controls.program_change:
        click.echo("  Program change N  selects mood N above (DAWs count programs from 1; the wire sends N-1)")
    for label, cc in (("preset", controls.preset_cc), ("valence", controls.valence_cc), ("arousal", controls.arousal_cc)):
        if cc is not None:
            click.echo(f"  CC {cc:<3d}            {label}" + (" (sweeps through the moods in order)" if label == "preset" else " (0 = -1, 64 = 0, 127 = +1)"))
    for label, cc in (("variation (0 loop-like, 64 the model's own, 127 restless)", controls.variation_cc),
                      ("freeze (held: the last phrase repeats exactly)", controls.freeze_cc),
                      ("new idea (a press: a fresh start at the next bar)", controls.idea_cc)):
        if cc is not None:
            click.echo(f"  CC {cc:<3d}            {label}")
    click.echo("  CC 120, 123        panic: every note LiveGAN holds is released")
