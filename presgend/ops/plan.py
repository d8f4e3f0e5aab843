"""`presgend plan`: what a job would do, how, and roughly how long it would take.

Reads the input (ffprobe, or the script's text) and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from presgend.core import hardware, inputs
from presgend.core.config import Config
from presgend.core.errors import JobError
from presgend.core.hardware import HardwareProfile, Quality
from presgend.pipeline.script import script
from presgend.pipeline.video import probe, transcribe


async def plan(path: Path, cfg: Config, quality_name: str | None) -> dict[str, Any]:
    profile = hardware.detect()
    quality = hardware.choose_quality(profile, quality_name or cfg.output.quality)
    result: dict[str, Any] = {
        "input": str(path),
        "quality": quality.name,
        "profile": profile.as_dict(),
        "steps": [],
        "ok": True,
    }
    try:
        kind = inputs.kind(path)
        inputs.check_readable(path)
        if kind == "script":
            await script.plan(path, cfg, quality, profile, result)
        else:
            await _plan_video(path, cfg, quality, profile, result)
    except JobError as exc:
        result.update(ok=False, error=str(exc))
    return result


async def _plan_video(
    path: Path, cfg: Config, quality: Quality, profile: HardwareProfile, result: dict[str, Any]
) -> None:
    info = await probe.probe(path)
    sidecar = transcribe.find_sidecar(path)
    steps = result["steps"]
    steps.append(
        (
            "probe",
            f"{info.width}x{info.height} {info.video_codec}, "
            f"{info.duration:.1f} s, audio: {info.audio_codec or 'none'}; "
            "face detection on 12 frames",
            2.0,
        )
    )
    if sidecar:
        steps.append(("transcript", f"from the sidecar {sidecar.name}", 0.2))
    else:
        ok, where = transcribe.model_status(cfg.transcription)
        device, compute = transcribe.resolve_device(cfg.transcription, profile.cuda)
        state = f"found at {where}" if ok else "NOT INSTALLED (see 'presgend doctor')"
        steps.append(
            (
                "transcript",
                f"faster-whisper '{cfg.transcription.model}' on {device} ({compute}), {state}",
                hardware.estimate_whisper(info.duration, cfg.transcription.model, profile),
            )
        )
    steps.append(
        (
            "slides",
            f"{cfg.slides.max_slides} at most, theme {cfg.slides.theme}, "
            f"rendered by Chromium at {quality.panel[0]}x{quality.panel[1]}",
            2.0,
        )
    )
    steps.append(
        (
            "compose",
            f"{quality.width}x{quality.height} H.264 "
            f"({' '.join(filter(None, [quality.x264_preset, quality.x264_params]))}, "
            f"crf {quality.crf}), AAC",
            hardware.estimate_compose(info.duration, quality, profile),
        )
    )
    result["duration_s"] = info.duration


def render(plan: dict[str, Any]) -> str:
    lines = [f"input:    {plan['input']}"]
    if not plan.get("ok"):
        return "\n".join([*lines, f"error:    {plan.get('error')}"])
    profile = plan["profile"]
    lines.append(
        f"quality:  {plan['quality']} (hardware: {profile['cpu_cores']} cores, "
        f"{profile['memory_gb']} GB, cuda: {profile['cuda']})"
    )
    for detail in plan.get("details", []):
        lines.append(detail)
    total = 0.0
    for name, what, seconds in plan["steps"]:
        total += seconds
        lines.append(f"  {name:<11} ~{seconds:6.1f} s  {what}")
    lines.append(f"estimated total: ~{total:.0f} s (nothing was written)")
    return "\n".join(lines)
