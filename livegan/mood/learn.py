"""MIDI learn: move a knob, and it is mapped to the next control on the list.

:class:`Learner` is the pure part: it is shown incoming messages and assigns the
first control change that moves to the target being learned. The ``learn``
command feeds it from a MIDI input and saves the result with
:func:`livegan.mood.controls.save_control_map`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mido

from livegan.mood.controls import KNOBS, ControlMap

LABELS = {"preset_cc": "mood preset", "valence_cc": "valence", "arousal_cc": "arousal", "density_cc": "density",
          "variation_cc": "variation (a knob)", "freeze_cc": "freeze (a button, held)", "idea_cc": "new idea (a button)"}


@dataclass
class Learner:
    """Learns, in order, the knobs and one mute switch per track.

    A CC counts once it has moved by at least ``min_move`` (so a knob's jitter or a
    fader resting at a value does not map itself); a CC already mapped is ignored.
    """

    tracks: list[str]
    min_move: int = 4
    assigned: dict[str, int | None] = field(default_factory=dict)
    _first_value: dict[int, int] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        return [*KNOBS, *(f"mute:{i}" for i in range(len(self.tracks)))]

    @property
    def current(self) -> str | None:
        """The target being learned now, or None when all are done."""
        return next((t for t in self.targets if t not in self.assigned), None)

    def label(self, target: str) -> str:
        if target.startswith("mute:"):
            return f"mute switch for track {int(target[5:]) + 1} ({self.tracks[int(target[5:])]})"
        return LABELS[target]

    def feed(self, msg: mido.Message) -> str | None:
        """Show one message; returns the target it was mapped to, if any."""
        target = self.current
        if target is None or msg.type != "control_change" or msg.control in self.assigned.values():
            return None
        first = self._first_value.setdefault(msg.control, msg.value)
        if abs(msg.value - first) < self.min_move:
            return None
        self.assigned[target] = msg.control
        self._first_value.clear()
        return target

    def skip(self) -> None:
        """Leave the current target unmapped."""
        if self.current is not None:
            self.assigned[self.current] = None
            self._first_value.clear()

    def control_map(self, base: ControlMap = ControlMap()) -> ControlMap:
        """The learned map; knobs left unmapped are switched off, mutes unlearned keep no CC."""
        knobs = {k: self.assigned.get(k) for k in KNOBS}
        mutes = tuple(c for i in range(len(self.tracks)) if (c := self.assigned.get(f"mute:{i}")) is not None)
        return replace(base, **knobs, mute_cc=mutes)
