"""MIDI control of the mood: what a knob or a program change means.

The input callback only *records* (:meth:`ControlState.record`, a few assignments
under a lock). The mood that a bar is generated in is a pure function of the
recorded state, the control map and the presets (:func:`resolve_mood`), sampled by
the generation worker, never by the callback.

Later events win: a program change resets valence and arousal to its preset's
point; a valence or arousal knob moved after it moves the point away from it.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import mido

from livegan.errors import UserError
from livegan.mood.presets import Mood, read_toml
from livegan.shipped import config_file

KNOBS = ("preset_cc", "valence_cc", "arousal_cc", "density_cc", "variation_cc", "freeze_cc", "idea_cc")
PANIC_CCS = (120, 123)  # All Sound Off, All Notes Off: arriving on the input, every note LiveGAN holds is released


@dataclass(frozen=True)
class ControlMap:
    """Which controllers move what. CC numbers 0-127; ``channel`` None listens on all 16 channels.

    The defaults sit in the MIDI spec's undefined range 20-31, free on most keyboards.
    """

    preset_cc: int | None = 20
    valence_cc: int | None = 21
    arousal_cc: int | None = 22
    density_cc: int | None = 23
    variation_cc: int | None = 19  # a knob: 0 loop-like, 64 the model's own, 127 restless
    freeze_cc: int | None = 80  # a button: held (>= 64), the last phrase repeats; released, the music goes on
    idea_cc: int | None = 81  # a button: each press starts a new idea at the next bar
    mute_cc: tuple[int, ...] = (24, 25, 26, 27, 28, 29, 30, 31)  # track 1, 2, ...: >= 64 mutes
    program_change: bool = True
    channel: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mute_cc", tuple(self.mute_cc))
        for key in KNOBS:
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= 127):
                raise ValueError(f"{key} must be a CC number 0-127, got {value!r}")
        for i, value in enumerate(self.mute_cc):
            if not isinstance(value, int) or not 0 <= value <= 127:
                raise ValueError(f"mute_cc[{i}] must be a CC number 0-127, got {value!r}")
        used = [c for c in (*(getattr(self, k) for k in KNOBS), *self.mute_cc) if c is not None]
        if len(set(used)) != len(used):
            raise ValueError(f"a CC number is mapped twice: {sorted(used)}")
        if set(used) & set(PANIC_CCS):
            raise ValueError(f"CC {sorted(set(used) & set(PANIC_CCS))} is the panic (All Sound Off, All Notes Off): map another")
        if self.channel is not None and not (isinstance(self.channel, int) and 0 <= self.channel <= 15):
            raise ValueError(f"channel must be 1-16 in the file (0-15 here), got {self.channel!r}")


def user_controls_path() -> Path:
    """Where ``livegan learn`` saves the user's control map (and ``livegan run`` looks for it).

    ``$XDG_CONFIG_HOME/livegan`` (default ``~/.config/livegan``) on Linux,
    ``~/Library/Application Support/livegan`` on macOS, ``%APPDATA%\\livegan`` on Windows.
    """
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "livegan" / "controls.toml"


def save_control_map(controls: ControlMap, path: Path) -> None:
    """Write ``controls`` as the TOML that :func:`load_control_map` reads."""
    def cc(value: int | None) -> int:
        return -1 if value is None else value

    lines = ["# Written by 'livegan learn'. CC numbers 0-127; -1 switches a control off.", "", "[controls]"]
    lines += [f"{key} = {cc(getattr(controls, key))}" for key in KNOBS]
    lines.append(f"mute_cc = [{', '.join(str(c) for c in controls.mute_cc)}]")
    lines.append(f"program_change = {'true' if controls.program_change else 'false'}")
    channel = '"all"' if controls.channel is None else str(controls.channel + 1)
    lines.append(f"channel = {channel}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def default_controls_path() -> Path:
    """The control map shipped in the package (``configs/controls.toml`` in the source tree)."""
    return config_file("controls.toml")


def load_control_map(path: str | Path | None = None) -> ControlMap:
    """Read ``[controls]`` from TOML; channel is 1-16 there (or "all"), as DAWs show it."""
    path = Path(path) if path is not None else default_controls_path()
    table = dict(read_toml(path).get("controls", {}))
    channel = table.pop("channel", "all")
    try:
        if channel != "all":
            if not isinstance(channel, int) or not 1 <= channel <= 16:
                raise ValueError(f"channel must be 1-16 or \"all\", got {channel!r}")
            table["channel"] = channel - 1
        for key in KNOBS:
            if table.get(key, 0) == -1:
                table[key] = None  # -1 switches a control off
        return ControlMap(**table)
    except (TypeError, ValueError) as exc:
        raise UserError(f"control file '{path}': {exc}") from None


@dataclass(frozen=True)
class Recorded:
    """The last value of each control and the sequence number of the event that set it."""

    version: int = 0
    preset: int = 0
    preset_seq: int = 0
    valence: int | None = None
    valence_seq: int = -1
    arousal: int | None = None
    arousal_seq: int = -1
    density: int | None = None
    density_seq: int = -1
    variation: int | None = None
    variation_seq: int = -1
    muted: frozenset[int] = frozenset()
    frozen: bool = False
    ideas: int = 0
    ideas_seq: int = -1
    panics: int = 0


class ControlState:
    """Thread-safe record of incoming controls; ``version`` grows with every change."""

    def __init__(self, controls: ControlMap, n_presets: int, preset: int = 0) -> None:
        self.controls = controls
        self.n_presets = n_presets
        self._lock = threading.Lock()
        self._state = Recorded(preset=preset)
        self.ignored = 0  # messages that meant nothing to us (counted, never raised)

    def snapshot(self) -> Recorded:
        with self._lock:
            return self._state

    def record(self, msg: mido.Message) -> bool:
        """Record one incoming message; returns True when it changed the mood controls."""
        c = self.controls
        if getattr(msg, "channel", None) is None or (c.channel is not None and msg.channel != c.channel):
            self.ignored += 1
            return False
        if msg.type == "program_change" and c.program_change:
            return self._set(preset=msg.program % self.n_presets)
        if msg.type == "control_change":
            if msg.control == c.preset_cc:
                return self._set(preset=min(msg.value * self.n_presets // 128, self.n_presets - 1))
            if msg.control == c.valence_cc:
                return self._set(valence=msg.value)
            if msg.control == c.arousal_cc:
                return self._set(arousal=msg.value)
            if msg.control == c.density_cc:
                return self._set(density=msg.value)
            if msg.control == c.variation_cc:
                return self._set(variation=msg.value)
            if msg.control == c.idea_cc:
                return msg.value >= 64 and self._set(ideas=self._state.ideas + 1)
            if msg.control == c.freeze_cc:
                return self._flag(frozen=msg.value >= 64)
            if msg.control in PANIC_CCS:
                return self._flag(panics=self._state.panics + 1)
            if msg.control in c.mute_cc:
                return self._mute(c.mute_cc.index(msg.control), msg.value >= 64)
        self.ignored += 1
        return False

    def _mute(self, track: int, muted: bool) -> bool:
        """Mute or unmute a track; takes effect at the next bar or beat, without regenerating."""
        with self._lock:
            s = self._state
            now = s.muted | {track} if muted else s.muted - {track}
            self._state = Recorded(**{**s.__dict__, "muted": frozenset(now)})
        return False

    def _flag(self, **changes: object) -> bool:
        """A performance switch (freeze, panic): read where it acts, not a change of mood."""
        with self._lock:
            self._state = Recorded(**{**self._state.__dict__, **changes})
        return False

    def _set(self, **changes: int) -> bool:
        with self._lock:
            s = self._state
            seq = s.version + 1
            fields = {"version": seq}
            for key, value in changes.items():
                fields[key] = value
                fields[f"{key}_seq"] = seq
            self._state = Recorded(**{**s.__dict__, **fields})
        return True


def cc_to_unit(value: int) -> float:
    """CC 0-127 -> [-1, 1], with 64 at the centre (0.0) and both ends reached exactly."""
    return max(-1.0, min(1.0, (value - 64) / 63.0 if value >= 64 else (value - 64) / 64.0))


def resolve_mood(recorded: Recorded, presets: list[Mood]) -> Mood:
    """The mood the recorded controls ask for: the preset, moved by any knob turned after it."""
    mood = presets[recorded.preset]
    valence = cc_to_unit(recorded.valence) if recorded.valence is not None and recorded.valence_seq > recorded.preset_seq else None
    arousal = cc_to_unit(recorded.arousal) if recorded.arousal is not None and recorded.arousal_seq > recorded.preset_seq else None
    density = cc_to_unit(recorded.density) if recorded.density is not None else None
    mood = mood.at(valence, arousal, density)
    if recorded.variation is not None or recorded.ideas:
        variation = mood.variation if recorded.variation is None else (cc_to_unit(recorded.variation) + 1.0) / 2.0
        mood = replace(mood, variation=variation, idea=recorded.ideas)
    return mood
