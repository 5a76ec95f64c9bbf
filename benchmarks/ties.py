"""Ties over the bar line: how often a model holds a note over the line, and that the take plays each once.

The default (coconet) and the LSTM make one bar at a time; a bar that holds on the note the bar before ended
with says so (``Bar.tied``) and the sequencer lets that note sound on. For each model and preset this renders
``--bars`` bars (``livegan render``'s path: the daemon's composer and sequencer on a fake clock) and counts:
the notes of the score, the ties among them, the note-ons the take sends, and the tied notes that sound as
one note in the take (a note-on before the line and none at it, on that channel and pitch).

    python benchmarks/ties.py                    # the default and the LSTM, 24 bars, seed 3, every preset
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the checkout on sys.path)
from common import check_model, parser, table, write_result

LSTM = Path(__file__).resolve().parents[1] / "models" / "lstm.onnx"


def count(generator: Any, mood: Any, bars: int, seed: int) -> dict[str, Any]:
    """Render ``bars`` bars in ``mood``: the score's notes, its ties, the take's note-ons, the ties held as one note."""
    from livegan.offline.render import Segment, render_piece

    piece = render_piece(generator, [Segment(mood)], bars, seed)
    spb, step = generator.info.steps_per_bar, 60.0 / piece.bpm / generator.info.steps_per_beat
    ons = [(t, m.channel, m.note) for t, m in piece.messages if m.type == "note_on" and m.velocity]
    held = 0
    for k, bar in enumerate(piece.bars):
        line = k * spb * step
        for i in bar.tied:
            on = bar.notes[i][0]
            struck_at_line = any(abs(t - line) < 1e-6 and (c, p) == (on.channel, on.pitch) for t, c, p in ons)
            held += not struck_at_line
    notes = sum(len(b.notes) for b in piece.bars)
    tied = sum(len(b.tied) for b in piece.bars)
    return {"mood": mood.name, "legato": mood.legato, "notes": notes, "tied": tied, "held_as_one": held,
            "note_ons_sent": len(ons), "voice_bar_lines": (bars - 1) * len(generator.info.tracks)}


def main() -> None:
    p = parser("ties", "Ties over the bar line: how often, and that the take plays each as one note.")
    p.add_argument("--bars", type=int, default=24)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    from livegan.model.engine import load_model
    from livegan.mood.presets import load_moods

    models = {"default": check_model(args.model)}
    if not args.quick and LSTM.is_file():
        models["lstm"] = LSTM
    moods = load_moods()[:1] if args.quick else load_moods()
    bars = 2 if args.quick else args.bars
    results: dict[str, Any] = {"bars": bars, "seed": args.seed, "models": {}}
    rows = []
    for name, path in models.items():
        generator = load_model(path)
        results["models"][name] = [count(generator, mood, bars, args.seed) for mood in moods]
        rows += [[name, r["mood"], r["legato"], r["notes"], r["tied"], r["held_as_one"], r["note_ons_sent"],
                  r["voice_bar_lines"]] for r in results["models"][name]]
    print(table(f"ties over the bar line ({bars} bars, seed {args.seed})",
                ["model", "mood", "legato", "notes", "tied", "held as one", "note-ons sent", "voice bar lines"], rows))
    write_result(args.out, "ties", args, results)


if __name__ == "__main__":
    main()
