"""What ``livegan eval`` prints and draws: the report of one model, models side by side, and plots.

Input is the JSON-able dict :func:`livegan.evaluation.evaluate.evaluate` returns; matplotlib is
imported only by :func:`write_plots`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from livegan.errors import UserError

# key in phrase_metrics -> (label, scale, format); scale 100 shows a rate in %.
ROWS = (
    ("empty_bar_rate", "EB   empty bars %", 100, "{:.1f}"),
    ("used_pitch_classes", "UPC  pitch classes per bar", 1, "{:.2f}"),
    ("qualified_note_rate_8th", "QN   notes >= 2 steps (an 8th) %", 100, "{:.1f}"),
    ("qualified_note_rate_32nd", "QN'  notes >= a 32nd (1 step) %", 100, "{:.1f}"),
    ("drum_pattern_8th", "DP   hits on the 8th grid %", 100, "{:.1f}"),
    ("drum_pattern_16th", "DP'  hits on the 16th grid %", 100, "{:.1f}"),
    ("polyphony", "     pitches sounding together", 1, "{:.2f}"),
    ("polyphonic_rate", "PP   steps with >= 2 pitches %", 100, "{:.1f}"),
    ("note_density", "     notes per bar", 1, "{:.2f}"),
)


def _num(value: Any, scale: float = 1, fmt: str = "{:.2f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value * scale)


def format_report(result: dict[str, Any]) -> str:
    """The terminal report: per-track metrics (generated | training), TD pairs, mood control, originality."""
    lines = _header(result) + _track_table(result) + _td_table(result)
    if "mood" in result:
        lines += _mood_lines(result["mood"])
    if "originality" in result:
        lines += _originality_lines(result["originality"])
    if "voices" in result:
        lines += [""] + _voice_lines(result)
    return "\n".join(lines)


# key -> (label, per voice) of the part-writing figures (livegan.evaluation.voicing); all shares, shown in %.
VOICE_ROWS = (
    ("polyphonic_steps", "a voice sounds 2+ pitches, % steps", True),
    ("all_voices_sound", "all voices sound, % of steps", False),
    ("stepwise", "moves of <= 2 semitones %", True),
    ("out_of_order", "voice below next (S<A A<T T<B) %", "pairs"),
    ("any_out_of_order", "any voices out of order, % steps", False),
    ("eighth_or_longer", "notes an 8th or longer %", True),
    ("held_phrase_ends", "phrase ends on a held chord %", False),
    ("repeated_from_previous_bar", "notes repeated from bar before %", False),
    ("parallel_perfect", "parallel 5ths/8ves, % joint moves", False),
)


def _voice_cell(value: Any, per: Any) -> str:
    if per and isinstance(value, list):
        return " ".join(_num(v, 100, "{:.0f}") for v in value)
    if isinstance(value, list):  # one figure asked of a per-voice list: the mean over the voices
        value = _track_mean(value)
    return _num(value, 100, "{:.1f}")


def _voice_lines(result: dict[str, Any]) -> list[str]:
    v = result["voices"]
    sides = [(k, v[k]) for k in ("played", "unguided", "training") if k in v]
    played = v["played"]
    lines = [f"part-writing of what the daemon plays: {played['streams']} renders of {played['bars']} bars (valence "
             f"-0.8 and +0.8, arousal -0.8 .. +0.8), guide {played['guide']}; training: its "
             f"{v['training']['phrases']} windows" if "training" in v else
             f"part-writing of what the daemon plays: {played['streams']} renders of {played['bars']} bars, guide {played['guide']}",
             f"{'  (per voice: S A T B; pairs: S-A A-T T-B)':<44s}" + "".join(f"{k:>22s}" for k, _ in sides)]
    for key, label, per in VOICE_ROWS:
        lines.append(f"  {label:<42s}" + "".join(f"{_voice_cell(x.get(key), per):>22s}" for _, x in sides))
    lines.append(f"  {'notes per bar, all voices':<42s}" + "".join(f"{_num(x.get('notes_per_bar'), 1, '{:.1f}'):>22s}" for _, x in sides))
    lines.append(f"  {'most pitches one voice sounds at once':<42s}" + "".join(f"{x.get('max_pitches', '-')!s:>22s}" for _, x in sides))
    for k, x in sides:
        if "major_when_positive" in x:
            lines.append(f"  {k}: phrases major at valence +0.8 {_num(x['major_when_positive'], 100, '{:.0f}')}%, minor at -0.8 "
                         f"{_num(x['minor_when_negative'], 100, '{:.0f}')}%; Spearman(arousal, notes per phrase) "
                         f"{_num(x['density_arousal_spearman'], 1, '{:+.2f}')}")
    return lines


# key -> (label, scale, format) of the comparison's MuseGAN rows: means over the tracks where they apply.
COMPARE_ROWS = (
    ("empty_bar_rate", "EB   empty bars %", 100, "{:.1f}"),
    ("used_pitch_classes", "UPC  pitch classes per bar", 1, "{:.2f}"),
    ("qualified_note_rate_8th", "QN   notes >= an 8th %", 100, "{:.1f}"),
    ("polyphonic_rate", "PP   steps with >= 2 pitches %", 100, "{:.1f}"),
    ("note_density", "     notes per bar and track", 1, "{:.2f}"),
)


def format_comparison(results: list[dict[str, Any]]) -> str:
    """Models side by side (and the training data's values where a dataset was given): one column each."""
    names = [Path(r["model"]["path"]).name for r in results]
    train = next((r["quality"]["training"] for r in results if "training" in r["quality"]), None)
    heads = names + (["training data"] if train else [])
    width = max(16, *(len(h) + 2 for h in heads))
    lines = ["side by side" + (" (training data: the same measures on its phrases)" if train else ""),
             f"{'':<36s}" + "".join(f"{h:>{width}s}" for h in heads)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"{label:<36s}" + "".join(f"{c:>{width}s}" for c in cells))

    row("architecture", [r["model"]["architecture"][:width - 2] for r in results] + ([""] if train else []))
    row("runtime, file size", [f"{r['model']['runtime']}, {_num(r['model'].get('megabytes'))} MB" for r in results]
        + ([""] if train else []))
    for key, label, scale, fmt in COMPARE_ROWS:
        row(label, [_num(_track_mean(r["quality"]["generated"][key]), scale, fmt) for r in results]
            + ([_num(_track_mean(train[key]), scale, fmt)] if train else []))
    row("TD   tonal distance, mean of pairs", [_num(_pair_mean(r["quality"]["generated"]["tonal_distance"])) for r in results]
        + ([_num(_pair_mean(train["tonal_distance"]))] if train else []))
    row("     major %", [_num(r["quality"]["generated"]["major_rate"], 100, "{:.0f}") for r in results]
        + ([_num(train["major_rate"], 100, "{:.0f}")] if train else []))
    if all("mood" in r for r in results):
        row("mood: major when valence > 0 %", [_num(r["mood"]["major_when_positive"], 100, "{:.0f}") for r in results])
        row("mood: minor when valence < 0 %", [_num(r["mood"]["minor_when_negative"], 100, "{:.0f}") for r in results])
        row("mood: Spearman(density, arousal)", [_num(r["mood"]["density_arousal_spearman"], 1, "{:+.2f}") for r in results])
    if all("originality" in r for r in results):
        o = [r["originality"] for r in results]
        if all("exact_copy_rate" in x for x in o):
            row("copies of training phrases %", [f"{_num(x['exact_copy_rate'], 100, '{:.1f}')} / "
                                                 f"{_num(x['near_copy_rate'], 100, '{:.1f}')}" for x in o])
            row("  (exact / near), nearest IoU median", [_num(x["nearest_iou"]["median"]) for x in o])
        row("diversity: mean pairwise IoU", [_num(x["diversity"]["mean_pairwise_iou"], 1, "{:.3f}") for x in o])
    if all("voices" in r for r in results):
        vt = next((r["voices"]["training"] for r in results if "training" in r["voices"]), None)
        for key, label, per in VOICE_ROWS:
            mean = key + "_mean" if f"{key}_mean" in results[0]["voices"]["played"] else key
            row(label, [_voice_cell(r["voices"]["played"].get(mean), False) for r in results]
                + ([_voice_cell(vt.get(mean), False)] if train and vt else [""] if train else []))
        row("played: major at v +0.8 / minor at -0.8 %", [f"{_num(r['voices']['played']['major_when_positive'], 100, '{:.0f}')} / "
                                                        f"{_num(r['voices']['played']['minor_when_negative'], 100, '{:.0f}')}"
                                                        for r in results])
        row("played: Spearman(arousal, notes)", [_num(r["voices"]["played"]["density_arousal_spearman"], 1, "{:+.2f}")
                                                 for r in results])
    row("model ms per bar, 1 / 8 candidates", [f"{_num(r['ms_per_bar']['candidates_1'])} / "
                                                  f"{_num(r['ms_per_bar']['candidates_8'])}" for r in results])
    return "\n".join(lines)


def _track_mean(values: list[Any]) -> float:
    kept = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(kept) / len(kept) if kept else math.nan


def _pair_mean(matrix: list[list[Any]]) -> float:
    return _track_mean([matrix[i][j] for i in range(len(matrix)) for j in range(i + 1, len(matrix))])


def _header(result: dict[str, Any]) -> list[str]:
    m, o = result["model"], result["options"]
    t, b, s, p = m["roll_shape"]
    lines = [(f"model {m['path']} ({m['provider']}, {m.get('architecture', '?')}, {m.get('runtime', 'phrase')} runtime): "
              f"{t} tracks x {b} bars x {s} steps x {p} pitches, "
              f"threshold {o['threshold'] or m['threshold']}; trained on {m['trained_on']}"),
             f"{o['phrases']} generated phrases (seed {o['seed']}), {result['seconds']:.1f} s in all"]
    if "ms_per_bar" in result:
        ms = result["ms_per_bar"]
        lines.append(f"model time per bar of music: {_num(ms['candidates_1'])} ms, {_num(ms['candidates_8'])} ms with "
                     f"--guide 8 (median, {m['provider']})")
    if "data" in result:
        d = result["data"]
        sub = f" (a random {d['phrases']} of {d['total']})" if d["phrases"] < d["total"] else ""
        lines.append(f"training data {d['path']}: {d['total']} phrases{sub}; moods drawn from its labels")
    else:
        lines.append("no training data (--data): moods drawn uniformly from the plane; no copy check")
    lines.append(f"QN: the paper's threshold, a 32nd note, is {max(1, math.ceil(s / 32 - 1e-9))} step(s) at {s} steps per bar "
                 f"(QN'); QN here counts notes of at least an 8th ({max(1, math.ceil(s / 8 - 1e-9))} steps). "
                 f"DP' is MuseGAN's 16th-note grid, DP the 8th-note grid.")
    return lines + [""]


def _track_table(result: dict[str, Any]) -> list[str]:
    names, q = result["model"]["tracks"], result["quality"]
    gen, train = q["generated"], q.get("training")
    width = 15
    head = f"{'per track: generated' + (' | training' if train else ''):<36s}" + "".join(f"{n[:width]:>{width}s}" for n in names)
    lines = [head]
    for key, label, scale, fmt in ROWS:
        cells = []
        for i in range(len(names)):
            text = _num(gen[key][i], scale, fmt)
            if train:
                text += " | " + _num(train[key][i], scale, fmt)
            cells.append(f"{text:>{width}s}")
        if any(c.strip() not in ("-", "- | -") for c in cells):
            lines.append(f"{label:<36s}" + "".join(cells))
    return lines + [""]


def _td_table(result: dict[str, Any]) -> list[str]:
    names, q = result["model"]["tracks"], result["quality"]
    td, train = q["generated"]["tonal_distance"], q.get("training", {})
    lines = ["TD (tonal distance, Harte) per track pair: generated" + (" | training | training shuffled" if train else "")]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if td[i][j] is None and (not train or train["tonal_distance"][i][j] is None):
                continue  # a drum track: no harmony to compare
            text = _num(td[i][j])
            if train:
                text += f" | {_num(train['tonal_distance'][i][j])} | {_num(train['tonal_distance_shuffled'][i][j])}"
            lines.append(f"  {names[i] + '-' + names[j]:<34s}{text}")
    gen = q["generated"]
    major = f"{_num(gen['major_rate'], 100, '{:.0f}')}%" + (f" | {_num(train['major_rate'], 100, '{:.0f}')}%" if train else "")
    return lines + [f"phrases analysed as major (Krumhansl-Kessler): {major}", ""]


def _mood_lines(mood: dict[str, Any]) -> list[str]:
    lines = [f"mood control ({mood['per_cell']} phrases per point, the same latents at every point)",
             f"{'  preset':<22s}{'valence':>8s}{'arousal':>8s}{'major %':>9s}{'notes/bar, all tracks':>23s}"]
    for p in mood["presets"]:
        lines.append(f"  {p['name']:<20s}{p['valence']:+8.2f}{p['arousal']:+8.2f}"
                     f"{_num(p['major_rate'], 100, '{:.0f}'):>9s}{_num(p['note_density']):>23s}")
    g = mood["grid"]
    lines.append("  grid, major % (rows: arousal high to low; columns: valence " + " ".join(f"{v:+.1f}" for v in g["valence"]) + ")")
    for a, row in reversed(list(zip(g["arousal"], g["major_rate"]))):
        lines.append(f"    arousal {a:+.1f}: " + " ".join(f"{_num(x, 100, '{:.0f}'):>4s}" for x in row))
    lines.append("  grid, notes per bar")
    for a, row in reversed(list(zip(g["arousal"], g["note_density"]))):
        lines.append(f"    arousal {a:+.1f}: " + " ".join(f"{_num(x, 1, '{:.1f}'):>5s}" for x in row))
    lines += [_mood_summary("  generated (grid)", mood)]
    if "training" in mood:
        lines.append(_mood_summary("  training (labels)", mood["training"]))
        if "Krumhansl" in mood["training"].get("label_rule", ""):
            lines.append("    (the dataset's valence labels were computed with this same key analysis, so its match is 100% by construction)")
    return lines + [""]


def _mood_summary(label: str, m: dict[str, Any]) -> str:
    return (f"{label}: mode matches valence sign {_num(m['mode_match'], 100, '{:.0f}')}% "
            f"(major when v>0 {_num(m['major_when_positive'], 100, '{:.0f}')}%, minor when v<0 "
            f"{_num(m['minor_when_negative'], 100, '{:.0f}')}%); Spearman(density, arousal) "
            f"{_num(m['density_arousal_spearman'], 1, '{:+.2f}')}; Spearman(mode score, valence) "
            f"{_num(m['mode_score_valence_spearman'], 1, '{:+.2f}')}")


def _originality_lines(o: dict[str, Any]) -> list[str]:
    pct = lambda x: _num(x, 100, "{:.1f}") + "%"
    lines = [f"originality (IoU of active cells, best of +/-{o['max_shift']} semitones; near copy: IoU >= {o['near_threshold']})"]
    if "exact_copy_rate" in o:
        n = o["nearest_iou"]
        lines.append(f"  generated vs {o['reference_phrases']} training phrases: exact copies {pct(o['exact_copy_rate'])}, "
                     f"near copies {pct(o['near_copy_rate'])}; nearest IoU median {_num(n['median'])}, p95 {_num(n['p95'])}, max {_num(n['max'])}")
        t = o["training"]
        lines.append(f"  training phrases vs other songs' phrases: exact {pct(t['exact_copy_rate_other_songs'])}, "
                     f"near {pct(t['near_copy_rate_other_songs'])}; nearest IoU median {_num(t['nearest_iou_other_songs']['median'])}")
    d = o["diversity"]
    lines.append(f"  diversity, generated: mean pairwise IoU {_num(d['mean_pairwise_iou'], 1, '{:.3f}')}, "
                 f"near duplicates of another generated phrase {pct(d['near_duplicate_rate'])}")
    if "training" in o:
        t = o["training"]["diversity"]
        lines.append(f"  diversity, {o['training']['phrases']} training phrases: mean pairwise IoU "
                     f"{_num(t['mean_pairwise_iou'], 1, '{:.3f}')}, near duplicates {pct(t['near_duplicate_rate'])}")
    return lines


def write_plots(result: dict[str, Any], folder: Path) -> list[Path]:
    """metrics.png (bars per metric and track, generated vs training) and mood.png (the valence/arousal grid)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("plots need matplotlib: pip install 'livegan[render]', or drop --plots") from None
    folder.mkdir(parents=True, exist_ok=True)
    paths = [_plot_metrics(plt, result, folder / "metrics.png")]
    if "mood" in result:
        paths.append(_plot_mood(plt, result["mood"], folder / "mood.png"))
    if "voices" in result:
        paths.append(_plot_voices(plt, result, folder / "voices.png"))
    return paths


def _plot_voices(plt, result: dict[str, Any], path: Path) -> Path:
    """voices.png: each part-writing figure, per voice where it is one, for what is played and for the data."""
    import numpy as np

    v = result["voices"]
    sides = [(k, v[k]) for k in ("played", "unguided", "training") if k in v]
    fig, axes = plt.subplots(3, 3, figsize=(13, 9))
    for ax, (key, label, per) in zip(axes.flat, VOICE_ROWS):
        first = sides[0][1].get(key)
        cols = len(first) if isinstance(first, list) else 1
        x = np.arange(cols)
        for k, (side, values) in enumerate(sides):
            y = values.get(key)
            y = [np.nan if e is None else e * 100 for e in (y if isinstance(y, list) else [y])]
            ax.bar(x + (k - 0.5 * (len(sides) - 1)) * 0.8 / len(sides), y, 0.8 / len(sides), label=side)
        names = {True: ["S", "A", "T", "B"][:cols], "pairs": ["S<A", "A<T", "T<B"][:cols], False: [""]}[per]
        ax.set_xticks(x, names, fontsize=8)
        ax.set_title(label, fontsize=9)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{Path(result['model']['path']).name}: part-writing (%), {v['played']['streams']} renders of "
                 f"{v['played']['bars']} bars", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_metrics(plt, result: dict[str, Any], path: Path) -> Path:
    import numpy as np

    names, q = result["model"]["tracks"], result["quality"]
    sides = [("generated", q["generated"])] + ([("training", q["training"])] if "training" in q else [])
    keys = [r for r in ROWS if r[0] not in ("qualified_note_rate_32nd", "drum_pattern_16th")]
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    x = np.arange(len(names))
    for ax, (key, label, scale, _) in zip(axes.flat, keys):
        for k, (side, values) in enumerate(sides):
            y = [np.nan if v is None else v * scale for v in values[key]]
            ax.bar(x + (k - 0.5 * (len(sides) - 1)) * 0.38, y, 0.38, label=side)
        ax.set_xticks(x, names, fontsize=7)
        ax.set_title(label.strip(), fontsize=9)
        if all(v is None for _, values in sides for v in values[key]):
            ax.text(0.5, 0.5, "no track it applies to", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    _plot_td(axes.flat[-1], sides, names)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{Path(result['model']['path']).name}: {result['options']['phrases']} phrases", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_td(ax, sides, names) -> None:
    import numpy as np

    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    x = np.arange(len(pairs))
    for k, (side, values) in enumerate(sides):
        y = [np.nan if values["tonal_distance"][i][j] is None else values["tonal_distance"][i][j] for i, j in pairs]
        ax.bar(x + (k - 0.5 * (len(sides) - 1)) * 0.38, y, 0.38, label=side)
    ax.set_xticks(x, [f"{names[i][:3]}-{names[j][:3]}" for i, j in pairs], fontsize=6, rotation=45)
    ax.set_title("TD tonal distance (lower: closer harmony)", fontsize=9)


def _plot_mood(plt, mood: dict[str, Any], path: Path) -> Path:
    import numpy as np

    g = mood["grid"]
    v, a = np.array(g["valence"]), np.array(g["arousal"])
    half = (v[-1] - v[0]) / (len(v) - 1) / 2  # cells are centred on the grid points
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    panels = (("major_rate", "phrases analysed major (%)", 100, "RdBu"), ("note_density", "notes per bar", 1, "viridis"))
    for ax, (key, title, scale, cmap) in zip(axes, panels):
        data = np.array([[np.nan if x is None else x * scale for x in row] for row in g[key]])
        image = ax.imshow(data, origin="lower", cmap=cmap, extent=(v[0] - half, v[-1] + half, a[0] - half, a[-1] + half),
                          aspect="auto", vmin=0 if scale == 100 else None, vmax=100 if scale == 100 else None)
        fig.colorbar(image, ax=ax)
        for p in mood["presets"]:
            ax.plot(p["valence"], p["arousal"], "k^", ms=6)
            ax.annotate(p["name"], (p["valence"], p["arousal"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("valence")
        ax.set_ylabel("arousal")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"mood control: match {_num(mood['mode_match'], 100, '{:.0f}')}%, "
                 f"Spearman(density, arousal) {_num(mood['density_arousal_spearman'], 1, '{:+.2f}')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
