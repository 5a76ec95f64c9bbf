"""Dataset sources: LPD-5 .npz folders, MIDI folders (EMOPIA names), music21's corpus, and the CLI."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from livegan.cli import main
from livegan.errors import UserError
from livegan.music.dataset import DataConfig, load_phrases
from livegan.training.data.build import build_dataset, source_kind
from livegan.training.data.lpd import read_lpd_file, write_lpd_file
from livegan.training.data.song import LPD5_TRACKS, SATB_TRACKS

GRID = DataConfig(bars=2, min_notes=4)
RES = 24  # LPD's steps a beat


def lpd_song(path, bars: int = 4, seed: int = 0):
    """An LPD-5 file: kick on every beat, a held C major triad on the piano, a bass line."""
    steps = bars * 4 * RES
    drums, piano, bass = (np.zeros((steps, 128), dtype=bool) for _ in range(3))
    drums[::RES, 36] = True
    piano[:, [60, 64, 67]] = True
    for beat in range(bars * 4):
        bass[beat * RES: beat * RES + RES - 2, 36 + (beat + seed) % 5] = True
    names, programs, flags = ["Drums", "Piano", "Bass"], [0, 0, 33], [True, False, False]
    return write_lpd_file(path, [drums, piano, bass], names, programs, flags, resolution=RES)


def emopia_midi(path, program: int = 0, pitches=(60, 64, 67), bars: int = 4) -> None:
    """A MIDI file of quarter-note chords at 480 ticks a beat on channel 1 (or drums on channel 10)."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))
    track.append(mido.Message("program_change", program=program, channel=0))
    for _ in range(bars * 4):
        track.extend(mido.Message("note_on", note=p, velocity=80, time=0) for p in pitches)
        track.append(mido.Message("note_off", note=pitches[0], time=480))
        track.extend(mido.Message("note_off", note=p, time=0) for p in pitches[1:])
    midi.save(path)


def test_an_lpd_file_reads_back_on_the_grid(tmp_path):
    song = read_lpd_file(lpd_song(tmp_path / "a.npz"), steps_per_beat=4)
    assert song.roll.shape == (5, 64, 128) and song.qpm == 120.0
    drums, piano, bass = song.roll[0], song.roll[1], song.roll[3]
    assert drums[:, 36].nonzero()[0].tolist() == list(range(0, 64, 4))  # one-step hits on every beat
    assert piano[:, [60, 64, 67]].all()
    assert bass[0:4, 36].tolist() == [True, True, True, True] and not song.roll[2].any()


def test_an_lpd_folder_builds_a_five_track_dataset(tmp_path):
    folder = tmp_path / "lpd_5_cleansed" / "A" / "B"
    folder.mkdir(parents=True)
    for i in range(3):
        lpd_song(folder / f"song{i}.npz", seed=i)
    (folder / "broken.npz").write_bytes(b"junk")
    data = build_dataset([str(tmp_path / "lpd_5_cleansed")], GRID)
    assert data.tracks == LPD5_TRACKS
    assert data.phrases.shape == (9, 5, 2, 16, 72)  # 3 files x 3 two-bar windows; the broken one skipped
    assert np.all(data.labels[:, 0] > 0), "a C major triad throughout reads as major"
    assert data.labels.min() >= -1 and data.labels.max() <= 1


def test_a_midi_folder_takes_emopia_labels_and_maps_gm_families(tmp_path):
    emopia_midi(tmp_path / "Q2_abcdefghijk_0.mid", program=26)  # a guitar
    emopia_midi(tmp_path / "Q4_bcdefghijkl_1.mid", program=0)  # a piano
    data = build_dataset([str(tmp_path)], GRID)
    assert source_kind(str(tmp_path))[0] == "midi"
    by_song = {data.songs[s]: tuple(label) for s, label in zip(data.song, data.labels.tolist())}
    assert by_song == {"Q2_abcdefghijk_0": (-0.5, 0.5), "Q4_bcdefghijkl_1": (0.5, -0.5)}
    guitar = data.phrases[data.song == data.songs.index("Q2_abcdefghijk_0")]
    assert guitar[:, 2].any() and not guitar[:, [0, 1, 3, 4]].any()


def test_a_midi_folder_takes_labels_from_a_csv_or_computes_them(tmp_path):
    emopia_midi(tmp_path / "calm.mid", pitches=(57, 60, 64))  # A minor
    emopia_midi(tmp_path / "bright.mid", pitches=(60, 64, 67))  # C major
    csv = tmp_path / "labels.csv"
    csv.write_text("file,valence,arousal\ncalm.mid,-0.9,-0.8\nbright.mid,0.7,0.1\n")
    from_csv = build_dataset([str(tmp_path)], GRID, labels=str(csv))
    assert sorted({tuple(np.round(v, 2)) for v in from_csv.labels.tolist()}) == [(-0.9, -0.8), (0.7, 0.1)]
    computed = build_dataset([str(tmp_path)], GRID, labels="computed")
    minor = computed.labels[computed.song == computed.songs.index("calm")]
    major = computed.labels[computed.song == computed.songs.index("bright")]
    assert np.all(minor[:, 0] < 0) and np.all(major[:, 0] > 0)
    with pytest.raises(UserError, match="no EMOPIA quadrant name"):
        build_dataset([str(tmp_path)], GRID, labels="names")


def test_the_music21_corpus_gives_four_voice_chorales():
    data = build_dataset(["music21:chorales"], DataConfig(), limit=3)
    assert data.tracks == SATB_TRACKS and len(data) > 0
    assert data.phrases.shape[1:] == (4, 4, 16, 72)
    voices = data.phrases.any(axis=(2, 3)).argmax(axis=-1).mean(axis=0)  # lowest pitch per voice
    assert voices[0] > voices[3], "the soprano sits above the bass"
    assert data.meta["computed_labels"] == len(data)


@pytest.mark.parametrize("source, words", [("nowhere", "neither"), ("music21:operas", "unknown music21 collection")])
def test_a_bad_source_is_one_clear_error(source, words):
    with pytest.raises(UserError, match=words):
        build_dataset([source], GRID)


def test_data_build_on_the_command_line_writes_a_dataset(tmp_path, capsys):
    emopia_midi(tmp_path / "Q1_abcdefghijk_0.mid")
    out = tmp_path / "set.npz"
    main(["data", "build", str(tmp_path), "-o", str(out)])
    assert "wrote" in capsys.readouterr().out
    assert len(load_phrases(out)) > 0
    with pytest.raises(SystemExit) as exit_:
        main(["data", "build", str(tmp_path / "missing"), "-o", str(out)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_chorales_read_as_voices_keep_onsets_and_fermatas_and_save_them(tmp_path):
    grid = DataConfig(lowest_pitch=36, n_pitches=48, monophonic=True)
    data = build_dataset(["music21:chorales"], grid, limit=4)
    assert data.onsets is not None and data.fermatas is not None and data.fermatas.shape == (len(data), 4, 16)
    assert data.phrases.sum(-1).max() == 1, "one pitch or a rest per voice and step"
    assert (data.onsets <= data.phrases).all() and data.onsets.any()
    held = data.phrases & ~data.onsets  # steps that continue a note
    assert held.sum() > data.onsets.sum(), "chorale notes last longer than a 16th"
    assert data.fermatas.any(), "chorales mark their cadences with fermatas"
    again = load_phrases(data.save(tmp_path / "voices.npz"))
    assert (again.onsets == data.onsets).all() and (again.fermatas == data.fermatas).all() and again.grid.monophonic


def test_voices_are_read_only_from_the_corpus(tmp_path):
    emopia_midi(tmp_path / "song.mid")
    with pytest.raises(UserError, match="monophonic"):
        build_dataset([str(tmp_path)], DataConfig(monophonic=True))
