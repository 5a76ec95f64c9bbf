"""Does mood guidance make the mood audible? The same phrases with and without it.

For each mood point, ``--phrases`` latents from a seeded walk are played the way the
daemon plays them: with ``--guide 1`` (the model's phrase as it is) and with
``--guide N`` (N candidate phrases from nearby latents, the best fit kept;
``livegan/guide.py``). Reported per mood: the share of phrases whose melodic tracks
analyse as major (Krumhansl-Kessler, as ``livegan eval``), notes per bar, and the
generation time per phrase (median), all from one run, so the columns compare.

    python benchmarks/guide.py [--model models/musegan.onnx] [--phrases 200] [--candidates 8]

Guidance serves the phrase models (the MuseGAN, the VAE): the default infill model carries
its mood itself, so this benchmark measures the MuseGAN unless told otherwise.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
from common import REPO, parser, table, write_result

sys.path.insert(0, str(REPO))

from livegan.generation.guide import MoodGuide  # noqa: E402
from livegan.generation.latent import LatentWalk  # noqa: E402
from livegan.model.engine import OnnxGenerator  # noqa: E402
from livegan.music.analysis import phrase_densities, phrase_modes, spearman  # noqa: E402

POINTS = [(0.8, 0.6), (0.8, -0.6), (-0.8, 0.6), (-0.8, -0.6), (0.0, 0.0)]


def play(generator: OnnxGenerator, guide: MoodGuide, point: tuple[float, float], phrases: int, seed: int):
    """(binary rolls [phrases, ...], seconds per phrase) as the composer would make them."""
    walk = LatentWalk(generator.latents, seed=seed)
    rolls, seconds = [], []
    for k in range(phrases):
        started = time.perf_counter()
        latents = guide.latents(walk.phrase(k), k)
        n = len(next(iter(latents.values())))
        probs = generator.generate(latents, np.tile(np.array([point], dtype=np.float32), (n, 1)))
        candidates = probs > generator.info.threshold
        rolls.append(candidates[guide.choose(candidates, *point)])
        seconds.append(time.perf_counter() - started)
    return np.stack(rolls), seconds


def main() -> None:
    p = parser("guide", __doc__.splitlines()[0], default_model="musegan.onnx")
    p.add_argument("--phrases", type=int, default=200)
    p.add_argument("--candidates", type=int, default=8)
    args = p.parse_args()
    phrases = 8 if args.quick else args.phrases
    generator = OnnxGenerator(args.model)
    rows, results = [], {}
    for n in (1, args.candidates):
        guide = MoodGuide(generator.info, n, seed=0)
        for point in POINTS:
            rolls, seconds = play(generator, guide, point, phrases, seed=1)
            is_major, _, analysed = phrase_modes(rolls, generator.info)
            density = phrase_densities(rolls, generator.info) / generator.info.bars
            key = f"guide{n} v{point[0]:+.1f} a{point[1]:+.1f}"
            results[key] = {"candidates": n, "valence": point[0], "arousal": point[1],
                            "major_share": float(is_major[analysed].mean()), "notes_per_bar": float(density.mean()),
                            "ms_per_phrase_median": 1e3 * statistics.median(seconds)}
            rows.append([n, f"{point[0]:+.1f}", f"{point[1]:+.1f}", f"{100 * results[key]['major_share']:.0f} %",
                         density.mean(), results[key]["ms_per_phrase_median"]])
        pts = [r for r in results.values() if isinstance(r, dict) and r["candidates"] == n]
        results[f"guide{n} arousal_vs_density_spearman"] = spearman(
            np.array([r["arousal"] for r in pts]), np.array([r["notes_per_bar"] for r in pts]))
    print(table(f"{args.model.name}: {phrases} phrases per mood, with and without mood guidance",
                ["candidates", "valence", "arousal", "major", "notes/bar", "ms/phrase"], rows))
    write_result(args.out, "guide", args, results)


if __name__ == "__main__":
    main()
