"""MIDI ports: rtmidi through mido, chosen by API (the in-memory port is :mod:`livegan.ports.memory`).

Virtual ports (a port that LiveGAN creates and a DAW records from) exist under
ALSA, JACK and CoreMIDI, not under Windows' MultiMedia API: there, LiveGAN opens
an existing port by name prefix, typically one made with loopMIDI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import mido

from livegan.errors import UserError

APIS = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
VIRTUAL_APIS = {"jack", "alsa", "coremidi"}
CLIENT_NAME = "LiveGAN"  # JACK shows the ports as "LiveGAN:LiveGAN Out" and "LiveGAN-in:LiveGAN In"
INPUT_CLIENT_NAME = "LiveGAN-in"


def default_api() -> str:
    """The platform's usual MIDI API: ALSA on Linux, CoreMIDI on macOS, WinMM on Windows."""
    if sys.platform.startswith("linux"):
        return "alsa"
    return "coremidi" if sys.platform == "darwin" else "winmm"


def backend(api: str | None) -> mido.Backend:
    """mido's rtmidi backend bound to one API; a UserError if rtmidi lacks it here."""
    api = api or default_api()
    if api not in APIS:
        raise UserError(f"unknown MIDI API '{api}': use one of {', '.join(APIS)}")
    import rtmidi

    compiled = rtmidi.get_compiled_api()
    if getattr(rtmidi, f"API_{APIS[api]}") not in compiled:
        names = ", ".join(sorted(rtmidi.get_api_name(a) for a in compiled)) or "none"
        raise UserError(f"MIDI API '{api}' is not available in this python-rtmidi build (it has: {names})")
    return mido.Backend(f"mido.backends.rtmidi/{APIS[api]}", load=True)


def list_ports(api: str | None) -> tuple[list[str], list[str]]:
    """(inputs, outputs) seen through ``api``; a UserError when the API's server is not running."""
    b = backend(api)
    try:
        return b.get_input_names(), b.get_output_names()
    except Exception as exc:  # rtmidi raises SystemError or its own errors when JACK/ALSA is absent
        raise UserError(f"cannot reach the MIDI system through '{api or default_api()}' ({exc}); is the server (JACK, ALSA) running?") from None


def _match(name: str, names: list[str]) -> str | None:
    """Exact name first, then the first port whose name starts with ``name`` (WinMM adds ' 1')."""
    if name in names:
        return name
    return next((n for n in names if n.startswith(name)), None)


def open_output(name: str, api: str | None, existing: bool = False) -> mido.ports.BaseOutput:
    """Create virtual output ``name`` (where the API can), or open an existing port by name prefix."""
    api = api or default_api()
    b = backend(api)
    try:
        if not existing and api in VIRTUAL_APIS:
            return b.open_output(name, virtual=True, client_name=CLIENT_NAME)
        names = b.get_output_names()
        match = _match(name, names)
        if match is None:
            hint = " (Windows has no virtual ports: create one with loopMIDI and pass its name to --port)" if api == "winmm" else ""
            raise UserError(f"no MIDI output port named '{name}'{hint}; available: {', '.join(names) or 'none'}")
        return b.open_output(match)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"cannot open MIDI output '{name}' through '{api}' ({exc}); is the server (JACK, ALSA) running?") from None


def open_input(name: str, api: str | None, callback: Callable[[mido.Message], None], virtual: bool) -> mido.ports.BaseInput:
    """Open input ``name`` (virtual, or an existing port by prefix) delivering messages to ``callback``."""
    api = api or default_api()
    b = backend(api)
    try:
        if virtual:
            if api not in VIRTUAL_APIS:
                raise UserError(f"'{api}' has no virtual ports: create one with loopMIDI and pass its name to --in")
            return b.open_input(name, virtual=True, client_name=INPUT_CLIENT_NAME, callback=callback)
        names = b.get_input_names()
        match = _match(name, names)
        if match is None:
            raise UserError(f"no MIDI input port named '{name}'; available: {', '.join(names) or 'none'}")
        return b.open_input(match, callback=callback)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"cannot open MIDI input '{name}' through '{api}' ({exc}); is the server (JACK, ALSA) running?") from None
