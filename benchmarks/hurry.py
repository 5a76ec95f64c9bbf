"""A bar wanted soon: how the model's window and Gibbs passes trade seconds for part-writing.

The daemon makes a bar in the model's full window (4 bars) with its full passes (24) when there is time; a first bar
(nothing before it) in a window of 2 (the bar and one hidden after); a bar wanted sooner than that (a chord changed
just before the bar line) in a window of 2 with the most passes that fit (``InfillRuntime.plan``). This measures
what each choice costs here and how it sounds, by the part-writing figures of ``livegan.evaluation.voicing``:

Part 1, a first bar: ``--seeds`` bars made from silence at the first mood, per (window, passes).
Part 2, a bar remade over a new chord: after two bars made freely (full window and passes), the third made over
F major held (the chord's steer, as ``--follow chords`` gives it) per (window, passes); the figures of the two-bar
stretch from the bar before (the voice-leading across the bar line counts), and the share of its note-ons that are
tones of F.

Seconds per bar are wall time per bar in this process (one ONNX thread, as the daemon's worker).

    python benchmarks/hurry.py            # --seeds 30
"""

from __future__ import annotations

import time
from typing import Any

import common  # noqa: F401  (puts the checkout on sys.path)
import numpy as np
from common import check_model, parser, table, write_result

OPENING = ((4, 24), (2, 24), (1, 24), (4, 12), (2, 12), (1, 12))
REMAKE = ((4, 24), (4, 12), (4, 8), (2, 24), (2, 16), (2, 12), (2, 8), (2, 4))
F_MAJOR = (0, 5, 9)
FIGURES = ("notes_per_bar", "stepwise_mean", "any_out_of_order", "parallel_perfect")


def figures(generator: Any, pitches: list[np.ndarray], onsets: list[np.ndarray], bars: int) -> dict[str, float]:
    from livegan.evaluation.voicing import Grid, piece_figures, summarise
    from livegan.music.voices import voices_to_notes

    info = generator.info
    grid = Grid(info.steps_per_beat, info.beats_per_bar, info.bars)
    counts = [piece_figures(voices_to_notes(p, o, info.lowest_pitch), len(info.tracks), bars, grid)
              for p, o in zip(pitches, onsets)]
    summary = summarise(counts)
    return {k: float(summary[k]) for k in FIGURES}


def opening(generator: Any, seeds: int, point: np.ndarray) -> list[dict[str, Any]]:
    from livegan.generation.infill import sample_bar

    v, rows = len(generator.info.tracks), []
    for window, passes in OPENING:
        pitches, onsets, started = [], [], time.perf_counter()
        for seed in range(seeds):
            p, o = sample_bar(generator, np.zeros((1, v, 0), np.int16), np.zeros((1, v, 0), bool), 0, point,
                              np.random.default_rng([seed, 0, 0]), iterations=passes, window=window)
            pitches.append(p[0])
            onsets.append(o[0])
        rows.append({"window": window, "passes": passes, "seconds_per_bar": (time.perf_counter() - started) / seeds,
                     **figures(generator, pitches, onsets, 1)})
    return rows


def remake(generator: Any, seeds: int, point: np.ndarray, mood: Any) -> list[dict[str, Any]]:
    from livegan.generation.bar import Morph
    from livegan.generation.infill import InfillRuntime, sample_bar, steering
    from livegan.music.voices import REST

    info = generator.info
    spb, chord_mood = info.steps_per_bar, mood.harmonized(F_MAJOR, 5, ())
    contexts = []
    for seed in range(seeds):
        runtime = InfillRuntime(generator, seed=100 + seed)
        for index in range(2):
            runtime.keep({}, runtime.make(index, Morph(0, mood, mood, 0, 0)), 0)
        contexts.append(runtime.contexts.before(2))
    rows = []
    for window, passes in REMAKE:
        pitches, onsets, tones, started = [], [], [], time.perf_counter()
        for seed, c in enumerate(contexts):
            p, o = sample_bar(generator, c.pitch[None], c.onset[None], 2, point, np.random.default_rng([seed, 0, 2]),
                              bias=steering(info, chord_mood, c), iterations=passes, window=window)
            pitches.append(np.concatenate([c.pitch[:, -spb:], p[0]], 1))
            onsets.append(np.concatenate([c.onset[:, -spb:], o[0]], 1))
            struck = o[0] & (p[0] != REST)
            tones += list(np.isin((p[0][struck] + info.lowest_pitch) % 12, F_MAJOR))
        rows.append({"window": window, "passes": passes, "seconds_per_bar": (time.perf_counter() - started) / seeds,
                     "chord_tones": float(np.mean(tones)) if tones else None, **figures(generator, pitches, onsets, 2)})
    return rows


def main() -> None:
    p = parser("hurry", "A bar wanted soon: window and Gibbs passes against seconds and part-writing figures.")
    p.add_argument("--seeds", type=int, default=30, help="bars per (window, passes) (default: %(default)s)")
    args = p.parse_args()
    from livegan.model.engine import load_model
    from livegan.mood.presets import load_moods

    generator = load_model(check_model(args.model), threads=1)
    if generator.info.runtime != "infill":
        raise SystemExit(f"{args.model}: a {generator.info.runtime} model; this measures an infill model's Gibbs passes")
    generator.warm_up()
    mood = load_moods()[0]
    point = np.array([[*mood.point, 1.0]], np.float32)
    seeds = 2 if args.quick else args.seeds
    results = {"model": str(args.model), "seeds": seeds, "mood": mood.name, "model_passes": generator.iterations,
               "opening": opening(generator, seeds, point), "remake": remake(generator, seeds, point, mood)}
    headers = ["window", "passes", "s/bar", "notes/bar", "stepwise", "out of order", "parallels"]
    keys = ["window", "passes", "seconds_per_bar", *FIGURES]
    print(table("a first bar (from silence)", headers, [[r[k] for k in keys] for r in results["opening"]]))
    print(table("a bar remade over a new chord (figures of it and the bar before)", headers + ["chord tones"],
                [[r[k] for k in keys + ["chord_tones"]] for r in results["remake"]]))
    write_result(args.out, "hurry", args, results)


if __name__ == "__main__":
    main()
