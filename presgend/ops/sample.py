"""A generated talking-head sample: a face photo with slow camera motion and speech by
espeak-ng or Piper, optionally over a synthetic music bed.

Used by `make demo`, the benchmarks and the tests, so none of them needs media from
the internet. The photo bundled in assets/ is NASA's public-domain astronaut portrait
(the one scikit-image ships), which OpenCV's Haar cascade finds a face in.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from presgend.core import procs
from presgend.pipeline.script import voices
from presgend.pipeline.text import subtitles
from presgend.pipeline.video import loudness
from presgend.pipeline.video.transcribe import Segment

ASSET = Path(__file__).parents[1] / "assets" / "presenter.jpg"
GAP_SECONDS = 0.35
LEAD_SECONDS = 0.3

DEMO_TALK = [
    "Welcome to this short talk about running reliable media pipelines.",
    "I will cover watch folders, safe publishing and honest reports.",
    "Watch folders are the simplest way to hand work to a machine.",
    "People drop files with copy tools, sync clients and network shares.",
    "A careful daemon waits until each file has stopped growing before touching it.",
    "Safe publishing means the outbox only ever shows finished results.",
    "Every video is written under a temporary name and checked with ffprobe.",
    "Only a verified file is renamed into place, so nobody sees a partial video.",
    "Honest reports tell you what happened, including every fallback that was taken.",
    "When a stage fails, the report says which one and why, in plain words.",
    "Thank you for listening, and happy presenting.",
]


@dataclass(frozen=True)
class SampleTalk:
    video: Path
    srt: Path
    segments: list[Segment]
    duration: float


def speak(text: str, wav: Path, voice: str = "en", speed: int = 165) -> float:
    subprocess.run(
        [procs.find("espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(wav), text],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with wave.open(str(wav)) as w:
        return float(w.getnframes()) / float(w.getframerate())


def piper_speak(sentences: list[str], folder: Path) -> dict[str, Path]:
    """Each distinct sentence spoken by the installed Piper voice, in one Piper run,
    without Piper's random variation (its generator and phoneme-width noise at 0): the
    same sentences give the same samples on every run, so a test or a benchmark hears
    the same speech each time."""
    voice = voices.find_voice("")
    if voice is None:
        raise RuntimeError("no Piper voice is installed (pip install 'presgend[voice]')")
    distinct = sorted({voices.one_line(s) for s in sentences})
    text_file = folder / "sentences.txt"
    text_file.write_text("\n".join(distinct) + "\n", encoding="utf-8")
    command = voices.synth_command(voice, text_file, folder / "piper")
    subprocess.run(
        [*command, "--noise-scale", "0", "--noise-w-scale", "0"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return dict(zip(distinct, voices.outputs(folder / "piper", len(distinct)), strict=True))


def speech_track(
    sentences: list[str],
    wav: Path,
    voice: str = "en",
    min_duration: float = 0.0,
    engine: str = "espeak",
    gaps: tuple[float, float] = (0.0, 0.0),
) -> list[Segment]:
    """The sentences in one WAV with short pauses (cycled until `min_duration` is
    reached); returns each sentence's exact times. `engine` is espeak or piper. `gaps`
    (lo, hi) adds that much more silence after each sentence, the same every time for a
    given talk (a lecturer's long pauses, a soundtrack's stretches of music)."""
    pauses = random.Random(len(sentences))
    segments: list[Segment] = []
    cache: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp, wave.open(str(wav), "wb") as out:
        spoken = piper_speak(sentences, Path(tmp)) if engine == "piper" else {}
        t, i = LEAD_SECONDS, 0
        while i < len(sentences) or t < min_duration:
            sentence = sentences[i % len(sentences)]
            if sentence not in cache:
                part = spoken.get(voices.one_line(sentence)) or Path(tmp) / "part.wav"
                if engine != "piper":
                    speak(sentence, part, voice)
                with wave.open(str(part)) as w:
                    if not segments:
                        out.setparams(w.getparams())
                        rate, width = w.getframerate(), w.getsampwidth()
                        out.writeframes(b"\0" * int(LEAD_SECONDS * rate) * width)
                    # from the first sound: each sentence's start is where it is heard
                    cache[sentence] = _from_first_sound(w.readframes(w.getnframes()), rate)
            frames = cache[sentence]
            duration = len(frames) / width / rate
            gap = GAP_SECONDS + (pauses.uniform(*gaps) if gaps[1] > 0 else 0.0)
            out.writeframes(frames + b"\0" * int(gap * rate) * width)
            segments.append(Segment(round(t, 3), round(t + duration, 3), sentence))
            t += duration + gap
            i += 1
    return segments


def _from_first_sound(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM without its leading silence (10 ms frames under -50 dBFS)."""
    samples = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    frame = rate // 100
    level = loudness.frame_db(samples, frame)
    sound = np.flatnonzero(level > -50)
    return pcm[int(sound[0]) * frame * 2 :] if sound.size else pcm


def music_bed(seconds: float, rate: int, level_db: float) -> np.ndarray:
    """Soft synthetic background music: slow pad chords (A minor, F, C, G), one every 4 s,
    with a gentle pulse; RMS at `level_db` dBFS. No sample from anywhere."""
    t = np.arange(round(seconds * rate)) / rate
    chords = [(220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (130.81, 164.81, 196.0),
              (196.0, 246.94, 293.66)]  # fmt: skip
    out = np.zeros_like(t)
    for k, chord in enumerate(chords * int(seconds // 16 + 1)):
        start, end = k * 4.0, k * 4.0 + 4.5
        mask = (t >= start) & (t < end)
        if not mask.any():
            break
        local = t[mask] - start
        envelope = np.minimum(1, local / 0.5) * np.minimum(1, (end - t[mask]) / 0.5)
        for f in chord:
            out[mask] += envelope * np.sin(2 * np.pi * f * t[mask])
    out *= 0.8 + 0.2 * np.sin(2 * np.pi * 2.0 * t)  # a soft beat
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    return out * (10 ** (level_db / 20) / rms)


def dense_score(seconds: float, rate: int, level_db: float, seed: int = 7) -> np.ndarray:
    """A busy soundtrack, as an animated scene or a trailer has: drums at 120 bpm (kick,
    snare, hats), a bass line, the pad chords, and a sound effect every few seconds
    (rising sweeps, impacts, whooshes of noise); RMS at `level_db` dBFS. Synthetic."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    out = music_bed(seconds, rate, -20.0)
    beat = 0.5
    for k in range(int(seconds / beat) + 1):
        at = int(k * beat * rate)
        if at >= n:
            break
        hit = np.arange(min(n - at, int(0.25 * rate))) / rate
        if k % 2 == 0:  # kick: a pitch falling from 110 Hz to 50
            pitch = 50 + 60 * np.exp(-hit * 30)
            out[at : at + hit.size] += 0.9 * np.sin(2 * np.pi * pitch * hit) * np.exp(-hit * 12)
        else:  # snare
            out[at : at + hit.size] += 0.5 * rng.standard_normal(hit.size) * np.exp(-hit * 20)
        half = at + int(beat * rate / 2)  # hats on the off-beat
        if half < n:
            tick = np.arange(min(n - half, int(0.05 * rate)))
            out[half : half + tick.size] += 0.2 * np.diff(rng.standard_normal(tick.size + 1))
    notes = (55.0, 55.0, 65.41, 49.0)  # the bass under the chords
    out += 0.4 * np.sign(np.sin(2 * np.pi * np.array(notes)[((t // 4) % 4).astype(int)] * t))
    when = 1.5
    while when < seconds - 2:  # an effect every 2.5 to 6 s
        kind, start = int(rng.integers(3)), int(when * rate)
        length = min(n - start, int(rng.uniform(0.6, 1.8) * rate))
        e = np.arange(length) / rate
        if kind == 0:  # a rising sweep
            sweep = np.sin(2 * np.pi * (200 * e + 900 * e**2))
            out[start : start + length] += 0.8 * sweep * np.minimum(1, e * 4)
        elif kind == 1:  # an impact
            out[start : start + length] += 1.5 * rng.standard_normal(length) * np.exp(-e * 8)
        else:  # a whoosh
            noise = np.convolve(rng.standard_normal(length), np.ones(40) / 40, mode="same")
            out[start : start + length] += 3.0 * noise * np.sin(np.pi * e / e[-1])
        when += rng.uniform(2.5, 6.0)
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    return out * (10 ** (level_db / 20) / rms)


def mix_music(
    wav: Path, music_db: float, speech_gain_db: float = 0.0, *, dense: bool = False
) -> None:
    """Put a music bed (`dense`: a busy score with effects) under the speech in `wav`,
    in place (16-bit mono)."""
    with wave.open(str(wav)) as w:
        params = w.getparams()
        speech = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    mixed = speech * 10 ** (speech_gain_db / 20)
    bed = dense_score if dense else music_bed
    mixed += bed(len(speech) / params.framerate, params.framerate, music_db)
    with wave.open(str(wav), "wb") as w:
        w.setparams(params)
        w.writeframes((np.clip(mixed, -1, 1) * 32767).astype("<i2").tobytes())


def canvas(image: Path, size: tuple[int, int], out: Path) -> Path:
    """The photo on a plain backdrop, larger than the frame so the camera can move, placed
    so the face (upper middle of a portrait) sits about 40% down the frame. The photo
    covers the top edge: a band of backdrop there would read as a border."""
    width, height = int(size[0] * 1.25), int(size[1] * 1.25)
    photo = Image.open(image).convert("RGB")
    scale = height * 1.8 / photo.height  # the face (24% down the photo) lands 42% down
    photo = photo.resize((int(photo.width * scale), int(photo.height * scale)))
    back = Image.new("RGB", (width, height), (52, 60, 72))
    left = int(width * 0.5 - photo.width * 0.45)
    top = min(0, int(height * 0.42 - photo.height * 0.24))
    back.paste(photo, (left, top))
    back.save(out)
    return out


def make_talk(
    out_dir: Path,
    sentences: list[str] | None = None,
    *,
    name: str = "talk",
    image: Path = ASSET,
    size: tuple[int, int] = (1280, 720),
    fps: int = 30,
    preset: str = "veryfast",
    sidecar: bool = True,
    min_duration: float = 0.0,
    engine: str = "espeak",
    music_db: float | None = None,
    speech_gain_db: float = 0.0,
    voice: str = "en",
    dense: bool = False,
    gaps: tuple[float, float] = (0.0, 0.0),
) -> SampleTalk:
    """Write `<name>.mp4` (and `<name>.srt` when `sidecar`) into `out_dir`. The speech is
    by espeak-ng (in `voice`'s language) or Piper (`engine`), optionally quieter and
    over a music bed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sentences = sentences or DEMO_TALK
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        segments = speech_track(sentences, wav, voice, min_duration=min_duration, engine=engine,
                                gaps=gaps)  # fmt: skip
        if music_db is not None or speech_gain_db:
            mix_music(wav, music_db if music_db is not None else -120.0, speech_gain_db,
                      dense=dense)  # fmt: skip
        duration = round(segments[-1].end + 0.6, 3)
        back = canvas(image, size, Path(tmp) / "canvas.png")
        video = out_dir / f"{name}.mp4"
        _encode(back, wav, video, size, fps, duration, preset)
    srt = out_dir / f"{name}.srt"
    if sidecar:
        srt.write_text(subtitles.to_srt(segments), encoding="utf-8")
    return SampleTalk(video, srt, segments, duration)


def _encode(
    back: Path,
    wav: Path,
    video: Path,
    size: tuple[int, int],
    fps: int,
    duration: float,
    preset: str,
) -> None:
    """A slow zoom (1.25x to 1.31x over 20 s) and a sway of a few pixels: a person
    on camera, who barely moves. The photo is made 4:2:0 once, before it is looped:
    ffmpeg would otherwise convert it again on every frame ahead of zoompan, for the
    same bytes out at twice the CPU."""
    w, h = size
    zoom = f"1.25+0.03*(1-cos(2*PI*on/({fps}*20)))"
    graph = (
        f"[0:v]format=yuv420p,loop=loop=-1:size=1,setpts=N/({fps}*TB),"
        f"zoompan=z='{zoom}':d=1:s={w}x{h}:fps={fps}:"
        f"x='(iw-iw/zoom)/2+{w * 0.01:.0f}*sin(2*PI*on/({fps}*9))':"
        f"y='(ih-ih/zoom)/2+{h * 0.008:.0f}*sin(2*PI*on/({fps}*7))',format=yuv420p[v]"
    )
    subprocess.run(
        [
            *procs.ffmpeg(),
            "-i",
            str(back),
            "-i",
            str(wav),
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            "1:a",
            "-t",
            f"{duration:.3f}",
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            "23",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-af",
            f"apad=whole_dur={duration:.3f}",
            "-movflags",
            "+faststart",
            str(video),
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )


def cut_into_shots(video: Path, out: Path, shot_seconds: float, preset: str = "veryfast") -> Path:
    """`video` recut as a two-camera recording: every `shot_seconds` it cuts between the
    wide shot and a closer one framed off to the side (as an edited podcast or a vlog
    with jump cuts is), with the same sound. One expression, however many cuts."""
    w, h = probe_size(video)
    close = f"crop=iw/1.4:ih/1.4:iw-iw/1.4:(ih-ih/1.4)/3,scale={w}:{h}"
    graph = (
        f"[0:v]split[wide][c];[c]{close}[close];"
        f"[wide][close]overlay=enable='gte(mod(t,{2 * shot_seconds:.3f}),{shot_seconds:.3f})'"
        ",format=yuv420p[v]"
    )
    subprocess.run(
        [*procs.ffmpeg(), "-i", str(video),
         "-filter_complex", graph, "-map", "[v]", "-map", "0:a", "-c:v", "libx264",
         "-preset", preset, "-crf", "23", "-c:a", "copy", "-movflags", "+faststart", str(out)],
        check=True, capture_output=True, timeout=3600,
    )  # fmt: skip
    return out


def probe_size(video: Path) -> tuple[int, int]:
    found = subprocess.run(
        [procs.find("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", str(video)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().split(",")  # fmt: skip
    return int(found[0]), int(found[1])
