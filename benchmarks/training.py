"""Training throughput: phrases per second of WGAN-GP training, through the real training loop.

``livegan.training.loop.train.train`` runs twice in fresh folders, for ``--steps A`` and
``--steps B`` generator updates; both pay the same set-up, final sample and checkpoint,
so (B - A) steps / (time B - time A) is the steady rate. An untimed 1-step run first
pays the lazy imports. A phrase is one real phrase
drawn for the critic: phrases/s = steps/s x batch_size x d_steps. The config is
``configs/musegan.toml``, run with 1 torch thread and with one per core (``--threads``).
CUDA is measured when torch sees a GPU.

Needs torch (``pip install -e '.[train]'``).

    python benchmarks/training.py --data runs/music21.npz
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, parser, table, write_result


def synthetic_dataset(path: Path, config) -> Path:
    """512 random sparse phrases on the config's grid, four SATB tracks (throughput does not depend on content)."""
    from livegan.music.dataset import PhraseSet
    from livegan.training.data.song import SATB_TRACKS

    g, n = config.data, 512
    rng = np.random.default_rng(0)
    shape = (n, len(SATB_TRACKS), g.bars, g.steps_per_bar, g.n_pitches)
    labels = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    PhraseSet(rng.random(shape) < 0.02, labels, np.arange(n) // 8, np.zeros(n, int), [f"s{i}" for i in range(n // 8)],
              g, SATB_TRACKS).save(path)
    return path


def timed_run(data: Path, config, steps: int, folder: Path, device: str) -> float:
    from livegan.training.loop.train import train

    started = time.perf_counter()
    train(data, config.replace_train(steps=steps), folder, device=device, progress=False)
    return time.perf_counter() - started


def throughput(data: Path, config, steps: tuple[int, int], device: str, warm_up: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if warm_up:  # the first run pays torch's lazy imports (optimizers, dynamo) and matplotlib's
            timed_run(data, config, 1, Path(tmp) / "warm-up", device)
        short, long = (timed_run(data, config, s, Path(tmp) / f"run{s}", device) for s in steps)
    t = config.train
    rate = (steps[1] - steps[0]) / (long - short) if long > short else float("nan")  # nan: noise beat the difference
    return {"device": device, "threads": t.threads, "batch_size": t.batch_size, "d_steps": t.d_steps,
            "steps": list(steps), "seconds": [short, long], "steps_per_s": rate,
            "phrases_per_s": rate * t.batch_size * t.d_steps}


def main() -> None:
    p = parser("training", "Training throughput (phrases per second) through the real training loop.", model=False)
    p.add_argument("--data", type=Path, default=REPO / "runs" / "music21.npz",
                   help="dataset (default: %(default)s; random phrases if it does not exist)")
    p.add_argument("--config", type=Path, default=None, help="TOML config (default: configs/musegan.toml)")
    p.add_argument("--steps", type=int, nargs=2, default=[5, 55], metavar=("A", "B"))
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="torch CPU threads to try (default: 1 and every core)")
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        write_result(args.out, "training", args, {"skipped": "torch is not installed (pip install -e '.[train]')"})
        return
    from livegan.training.config import load_config

    logging.getLogger("livegan").setLevel(logging.WARNING)
    config = load_config(args.config)
    steps = (1, 2) if args.quick else tuple(args.steps)
    if args.quick:
        config = config.replace_train(batch_size=2)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data if args.data.is_file() and not args.quick else synthetic_dataset(Path(tmp) / "random.npz", config)
        threads = [1] if args.quick else (args.threads or sorted({1, os.cpu_count() or 1}))
        rows = [throughput(data, config.replace_train(threads=n), steps, "cpu", warm_up=not args.quick) for n in threads]
        cuda = torch.cuda.is_available()
        if cuda:
            rows.append(throughput(data, config, steps, "cuda"))
    results = {"data": str(data) if data == args.data else "512 random phrases", "torch": torch.__version__,
               "rows": rows, "cuda": "measured" if cuda else "not measured here (torch sees no GPU)"}
    print(table(f"training throughput ({results['data']})", ["device", "threads", "batch", "steps/s", "phrases/s"],
                [[r["device"], r["threads"], r["batch_size"], r["steps_per_s"], r["phrases_per_s"]] for r in rows]))
    print(f"CUDA: {results['cuda']}")
    write_result(args.out, "training", args, results)


if __name__ == "__main__":
    main()
