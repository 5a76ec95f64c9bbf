"""Inference: time per phrase with ONNX Runtime (the daemon's engine) against torch eager, same weights.

The weights come from ``--checkpoint`` (a training run's ``last.pt``) or, without one, from
an untrained generator built from ``configs/musegan.toml`` by the training code itself
(timing does not depend on the weights' values). The checkpoint is exported with
``livegan.export.onnx.export_onnx`` (which checks torch against ONNX Runtime to 1e-4),
then both run the same inputs at batch 1 (what the daemon does, one phrase at a time on one
thread) and at large batches (what ``livegan eval`` and training samples do), on 1 thread
and on every core. CUDA is measured when torch and onnxruntime see a GPU.

Needs torch (``pip install -e '.[train]'``).

    python benchmarks/inference.py --checkpoint runs/default/last.pt
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, parser, table, write_result


def untrained_checkpoint(folder: Path) -> Path:
    """A checkpoint of a freshly initialised generator and critic from the default config (seed 0)."""
    import torch

    from livegan.model.contract import ModelInfo
    from livegan.training.config import load_config
    from livegan.training.data.song import SATB_TRACKS
    from livegan.training.loop.checkpoint import save_checkpoint
    from livegan.training.nets.musegan import Critic, Generator

    config, tracks = load_config(None), SATB_TRACKS
    torch.manual_seed(0)
    generator = Generator(config.model, config.data, len(tracks))
    critic = Critic(config.model, config.data, len(tracks))
    g = config.data
    info = ModelInfo(tracks=tracks, lowest_pitch=g.lowest_pitch, n_pitches=g.n_pitches, steps_per_beat=g.steps_per_beat,
                     beats_per_bar=g.beats_per_bar, bars=g.bars, latent_size=generator.latent_size,
                     trained_on="nothing (untrained, for timing)")
    state = {"generator": generator.state_dict(), "critic": critic.state_dict(), "step": torch.tensor(0)}
    return save_checkpoint(folder / "untrained.pt", state, {"config": config.to_dict(), "info": info.to_dict()})


def per_call(fn: Callable[[], object], min_seconds: float, min_reps: int) -> float:
    """Median seconds of ``fn()`` after two warm-up calls, over at least ``min_reps`` calls and ``min_seconds``."""
    fn()
    fn()
    times, started = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - started < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(module, onnx_path: Path, device: str, threads: int, batches: list[int], budget: float) -> list[dict[str, Any]]:
    """Seconds per phrase for torch eager and ONNX Runtime at each batch size, and their largest difference."""
    import torch

    from livegan.model.engine import OnnxGenerator

    torch.set_num_threads(threads)
    engine = OnnxGenerator(onnx_path, device=device, threads=threads)
    module = module.to(device)
    rows = []
    for batch in batches:
        rng = np.random.default_rng(batch)
        z = rng.standard_normal((batch, engine.info.latent_size), dtype=np.float32)
        mood = rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
        zt, mt = torch.from_numpy(z).to(device), torch.from_numpy(mood).to(device)

        def run_torch(zt=zt, mt=mt) -> np.ndarray:
            with torch.inference_mode():
                out = module(zt, mt)
            return out.cpu().numpy()  # the host gets the roll, as with ONNX Runtime

        def run_onnx(z=z, mood=mood) -> np.ndarray:
            return engine.generate({"z": z}, mood)

        t_torch, t_onnx = per_call(run_torch, budget, 5), per_call(run_onnx, budget, 5)
        rows.append({"device": device, "provider": engine.provider, "threads": threads, "batch": batch,
                     "torch_ms_per_phrase": t_torch / batch * 1e3, "onnx_ms_per_phrase": t_onnx / batch * 1e3,
                     "torch_phrases_per_s": batch / t_torch, "onnx_phrases_per_s": batch / t_onnx,
                     "onnx_speedup": t_torch / t_onnx, "max_abs_difference": float(np.abs(run_torch() - run_onnx()).max())})
    return rows


def main() -> None:
    p = parser("inference", "ONNX Runtime vs torch eager, time per phrase, batch 1 and large batches.", model=False)
    p.add_argument("--checkpoint", type=Path, default=REPO / "runs" / "default" / "last.pt",
                   help="training checkpoint (default: %(default)s; an untrained generator if it does not exist)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256])
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        write_result(args.out, "inference", args, {"skipped": "torch is not installed (pip install -e '.[train]')"})
        return
    from livegan.export.onnx import export_onnx, rebuild

    batches, budget = ([1, 2], 0.0) if args.quick else (args.batches, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint if args.checkpoint.is_file() and not args.quick else untrained_checkpoint(Path(tmp))
        onnx_path = Path(tmp) / "model.onnx"
        export_onnx(checkpoint, onnx_path)
        module, info = rebuild(checkpoint)
        thread_counts = [1] if args.quick else sorted({1, os.cpu_count() or 1})
        rows = [r for threads in thread_counts for r in measure(module, onnx_path, "cpu", threads, batches, budget)]
        cuda = torch.cuda.is_available()
        if cuda:
            rows += measure(module, onnx_path, "cuda", 1, batches, budget)
    results = {"weights": str(checkpoint) if checkpoint == args.checkpoint else "untrained (configs/musegan.toml, seed 0)",
               "roll_shape": list(info.roll_shape), "latent_size": info.latent_size, "torch": torch.__version__,
               "parameters": sum(p.numel() for p in module.parameters()), "rows": rows,
               "cuda": "measured" if cuda else "not measured here (torch sees no GPU)"}
    print_table(results)
    write_result(args.out, "inference", args, results)


def print_table(results: dict[str, Any]) -> None:
    rows = [[r["device"], r["threads"], r["batch"], r["torch_ms_per_phrase"], r["onnx_ms_per_phrase"], r["onnx_speedup"],
             round(r["onnx_phrases_per_s"]), f"{r['max_abs_difference']:.1e}"] for r in results["rows"]]
    print(table(f"inference, ms per phrase ({results['weights']}; roll {results['roll_shape']}, "
                f"{results['parameters']:,} generator parameters)",
                ["device", "threads", "batch", "torch eager", "onnxruntime", "ort speed-up", "ort phrases/s", "max |diff|"], rows))
    print(f"CUDA: {results['cuda']}")


if __name__ == "__main__":
    main()
