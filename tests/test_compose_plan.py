"""The filtergraph and argument list, as data."""

from __future__ import annotations

from pathlib import Path

from presgend.hardware import QUALITIES
from presgend.pipeline import compose
from presgend.pipeline.face import Box, CropSegment


def _plan(starts: list[float], crop: list[CropSegment] | None = None) -> compose.ComposePlan:
    return compose.ComposePlan(
        video=Path("/in/talk.mp4"),
        audio=Path("/in/talk.mp4"),
        duration=60.0,
        fps=30,
        quality=QUALITIES["standard"],
        crop=crop or [CropSegment(0.0, Box(100, 20, 640, 720))],
        slides=[compose.SlideCue(Path(f"/w/s{i}.png"), t) for i, t in enumerate(starts)],
        crossfade=0.4,
        encoder="libx264",
        output=Path("/out/.tmp/x.mp4"),
    )


def test_each_slide_is_decoded_once_and_looped() -> None:
    plan = _plan([0.0, 20.0, 40.0])
    args = compose.build_args(plan)
    assert args.count("-i") == 4 and "-loop" not in args
    graph = compose.build_filtergraph(plan)
    assert graph.count("loop=loop=-1:size=1") == 3
    assert "xfade=transition=fade:duration=0.4:offset=19.800" in graph
    assert "offset=39.800" in graph
    assert "[0:a:0]" in graph and "apad=whole_dur=60.000" in graph
    assert args[args.index("-t") + 1] == "60.000"
    assert "+faststart" in args and "yuv420p" in args


def test_fades_are_centred_on_the_first_word_and_kept_apart() -> None:
    cues = [
        compose.SlideCue(Path("a"), 0.0),
        compose.SlideCue(Path("b"), 10.0),
        compose.SlideCue(Path("c"), 10.1),
        compose.SlideCue(Path("d"), 0.05),
    ]
    offsets = compose.slide_offsets(cues, 0.4, 30)
    assert offsets[0] == 9.8
    assert offsets[1] >= offsets[0] + 0.4 and offsets[2] >= offsets[1] + 0.4


def test_slide_lengths_cover_the_whole_video() -> None:
    graph = compose.build_filtergraph(_plan([0.0, 20.0, 40.0]))
    assert "trim=duration=20.200[s0]" in graph
    assert "trim=duration=20.400[s1]" in graph
    assert "trim=duration=21.200[s2]" in graph  # 60 - 39.8 + 1 s of slack


def test_steady_crop_is_a_constant_and_moves_ramp() -> None:
    steady = [CropSegment(0.0, Box(100, 20, 640, 720))]
    assert compose.crop_expr(steady, "x") == "100"
    moved = [*steady, CropSegment(30.0, Box(300, 20, 640, 720))]
    expr = compose.crop_expr(moved, "x")
    assert expr == "if(lt(t,30.000),100,100+(200)*min(1,(t-30.000)/0.6))"
    assert compose.crop_expr(moved, "y") == "20"


def test_separate_audio_input_and_looped_presenter() -> None:
    plan = _plan([0.0, 5.0])
    plan = compose.ComposePlan(
        **{**plan.__dict__, "audio": Path("/w/speech.wav"), "loop_video": True}
    )
    args = compose.build_args(plan)
    assert args[args.index("-stream_loop") + 1] == "-1"
    assert args[-1] == "/out/.tmp/x.mp4" and "/w/speech.wav" in args
    assert "[3:a:0]" in compose.build_filtergraph(plan)


def test_nvenc_arguments() -> None:
    plan = compose.ComposePlan(**{**_plan([0.0]).__dict__, "encoder": "nvenc"})
    args = compose.encoder_args(plan)
    assert args[args.index("-c:v") + 1] == "h264_nvenc"


def test_progress_lines_become_fractions() -> None:
    seen: list[float] = []
    parse = compose.progress_parser(10.0, seen.append)
    for line in ["frame=10", "out_time_us=2500000", "out_time_us=N/A", "out_time_us=12000000"]:
        parse(line)
    assert seen == [0.25, 1.0]
