"""The filtergraph and argument list, as data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from presgend.core.hardware import QUALITIES
from presgend.pipeline.video import compose
from presgend.pipeline.video.face import Box, CropSegment


def _plan(
    starts: list[float], crop: list[CropSegment] | None = None, builds: tuple[int, ...] = ()
) -> compose.ComposePlan:
    return compose.ComposePlan(
        video=Path("/in/talk.mp4"),
        audio=Path("/in/talk.mp4"),
        duration=60.0,
        fps=30,
        quality=QUALITIES["standard"],
        crop=crop or [CropSegment(0.0, Box(100, 20, 640, 720))],
        slides=[
            compose.SlideCue(Path(f"/w/s{i}.png"), t, opens=i not in builds)
            for i, t in enumerate(starts)
        ],
        crossfade=0.4,
        encoder=compose.X264,
        output=Path("/out/.tmp/x.mp4"),
        blank=Path("/w/blank.png"),
        gain_db=4.5,
    )


def test_each_slide_is_decoded_once_and_held_as_a_still() -> None:
    plan = _plan([0.0, 20.0, 40.0])
    args = compose.build_args(plan)
    assert args.count("-i") == 5 and "-loop" not in args, "video, three slides, the blank"
    graph = compose.build_filtergraph(plan)
    # one decode per slide, split for its hold and the fades it takes part in
    assert graph.count("[1:v]scale=640:720") == 1 and "split=2" in graph and "split=3" in graph
    assert "[4:v]scale=640:720,setsar=1,format=yuv420p,split=4" in graph, "blank: 2 fades"
    assert graph.count("xfade=") == 4, "xfade only inside transitions: out, then in"
    assert "concat=n=7:v=1:a=0,settb=1/30,setpts=N[right]" in graph
    assert "[left][right]hstack=inputs=2[v]" in graph
    assert "[0:a:0]" in graph and "apad=whole_dur=60.000" in graph
    assert args[args.index("-t") + 1] == "60.000"
    assert "+faststart" in args and "yuv420p" in args
    assert args[args.index("-filter_complex_threads") + 1] == "2"


def test_sound_is_levelled_at_48k_in_the_same_pass() -> None:
    plan = _plan([0.0])
    graph = compose.build_filtergraph(plan)
    assert "volume=4.50dB,alimiter=" in graph and "aresample=48000" in graph
    args = compose.build_args(plan)
    assert args[args.index("-ar") + 1] == "48000"
    assert args[args.index("-aac_coder") + 1] == "fast"
    high = compose.encoder_args(dataclasses.replace(plan, quality=QUALITIES["high"]))
    assert "-aac_coder" not in high, "high quality keeps the two-loop search"
    unlevelled = compose.build_filtergraph(dataclasses.replace(plan, gain_db=None))
    assert "volume" not in unlevelled and "alimiter" not in unlevelled


def test_slides_fade_through_the_background_and_builds_fade_in_on_time() -> None:
    cues = [
        compose.SlideCue(Path("a"), 0.0),
        compose.SlideCue(Path("b"), 10.0),
        compose.SlideCue(Path("b2"), 10.1, opens=False),
        compose.SlideCue(Path("c"), 0.05),
    ]
    fades = compose.transitions(cues, 0.4, 0.2, 30)
    assert (fades[0].begin, fades[0].frames) == (294, 12), "out before 10 s, in after it"
    assert fades[1].begin >= fades[0].end + 1 and fades[1].frames == 6
    assert fades[2].begin >= fades[1].end + 1, "kept in order, never overlapping"


def test_a_keyframe_follows_every_fade() -> None:
    plan = _plan([0.0, 20.0, 25.0, 40.0], builds=(2,))
    args = compose.build_args(plan)
    keys = args[args.index("-force_key_frames") + 1].split(",")
    assert keys == ["20.200", "25.200", "40.200"]


def test_holds_and_fades_add_up_to_the_whole_video_in_frames() -> None:
    graph = compose.build_filtergraph(_plan([0.0, 20.0, 30.0], builds=(2,)))
    frames = [int(part.split("[")[0]) for part in graph.split("trim=end_frame=")[1:]]
    # hold 0 to 19.8 s, out and in (6+6 twice: old/blank, blank/new), hold 1 to 30 s,
    # build fade (6 twice), hold 2 to the end + 1 s
    assert frames == [594, 6, 6, 6, 6, 294, 6, 6, 924]
    assert 594 + 6 + 6 + 294 + 6 + 924 == 61 * 30


def test_a_single_slide_needs_no_fade() -> None:
    graph = compose.build_filtergraph(_plan([0.0]))
    assert "xfade" not in graph and "split" not in graph
    assert "concat=n=1:v=1:a=0,settb=1/30,setpts=N[right]" in graph


def test_steady_crop_is_a_constant_and_moves_ramp() -> None:
    steady = [CropSegment(0.0, Box(100, 20, 640, 720))]
    assert compose.crop_expr(steady, "x") == "100"
    moved = [*steady, CropSegment(30.0, Box(300, 20, 640, 720))]
    expr = compose.crop_expr(moved, "x")
    assert expr == "100+200*clip((t-30.000)/0.6,0,1)"
    assert compose.crop_expr(moved, "y") == "20"
    cut = [*steady, CropSegment(30.0, Box(300, 20, 640, 720), cut=True)]
    assert compose.crop_expr(cut, "x") == "100+200*gte(t,30.000)", "a new shot: at once"


def test_a_thousand_shots_are_one_flat_sum_and_a_part_carries_only_its_own() -> None:
    """ffmpeg refuses an expression about 100 deep: a 107-shot talk failed to compose
    when each shot added an if(), and a chain of 100 additions fails the same way. The
    steps are summed in groups of 8: 1,000 of them nest 3 deep."""
    shots = [CropSegment(i * 0.3, Box(100 + 200 * (i % 2), 20, 640, 720), cut=i > 0)
             for i in range(1000)]  # fmt: skip
    expr = compose.crop_expr(shots, "x")
    assert expr.count("gte(") == 999 and "if(" not in expr
    depth = deepest = 0
    for char in expr:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    assert deepest == 4  # three levels of brackets, and gte's own
    assert expr.startswith("100+(0+(0+(0+200*gte(t,0.300)-200*gte(t,0.600)")
    # a part from 150 s to 180 s: the shots before it folded into its first value
    part = compose.crop_expr(shots, "x", 150.0, 180.0)
    assert part.startswith("100+(0+(0+200*gte(t,0.300)-200*gte(t,0.600)")
    assert part.count("gte(") == 99  # the changes at 150.3 … 179.7 s


def test_separate_audio_input_and_looped_presenter() -> None:
    plan = dataclasses.replace(
        _plan([0.0, 5.0]), audio=Path("/w/speech.wav"), loop_video=True, audio_channels=6
    )
    args = compose.build_args(plan)
    assert args[args.index("-stream_loop") + 1] == "-1"
    assert args[-1] == "/out/.tmp/x.mp4" and "/w/speech.wav" in args
    assert "[4:a:0]" in compose.build_filtergraph(plan), "after the two slides and the blank"
    assert args[args.index("-ac") + 1] == "2", "surround is downmixed"
    assert "-ac" not in compose.build_args(_plan([0.0])), "mono and stereo are kept"


def test_each_quality_encodes_with_its_preset_and_only_standard_adds_to_it() -> None:
    for name, quality in QUALITIES.items():
        args = compose.encoder_args(dataclasses.replace(_plan([0.0]), quality=quality))
        assert args[args.index("-preset") + 1] == quality.x264_preset
        extra = args[args.index("-x264-params") + 1] if "-x264-params" in args else ""
        assert extra == ("subme=1:partitions=i8x8,i4x4" if name == "standard" else ""), name


def test_nvenc_arguments() -> None:
    args = compose.encoder_args(dataclasses.replace(_plan([0.0]), encoder=compose.NVENC))
    assert args[args.index("-c:v") + 1] == "h264_nvenc"


def test_progress_lines_become_fractions() -> None:
    seen: list[float] = []
    parse = compose.progress_parser(10.0, seen.append)
    for line in ["frame=10", "out_time_us=2500000", "out_time_us=N/A", "out_time_us=12000000"]:
        parse(line)
    assert seen == [0.25, 1.0]


def test_without_a_background_picture_slides_cross_dissolve() -> None:
    graph = compose.build_filtergraph(dataclasses.replace(_plan([0.0, 20.0, 40.0]), blank=None))
    assert "[b0]" not in graph and graph.count("xfade=") == 2
    assert "concat=n=5:v=1:a=0,settb=1/30,setpts=N[right]" in graph


def test_a_long_talk_is_encoded_in_one_segment_a_slide() -> None:
    """Seams fall where a slide change has faded to the bare background (frame 600 for
    the slide at 20 s, 1200 for 40 s); a build (29 s) is no seam. A segment is encoded on
    its own, from its own time."""
    plan = _plan([0.0, 20.0, 29.0, 40.0], builds=(2,))  # 60 s at 30 fps: 1800 frames
    first, second, third = compose.split(plan, 2, Path("/w"))
    assert [(p.first, p.end) for p in (first, second, third)] == [(0, 600), (600, 1200),
                                                                  (1200, 1800)]  # fmt: skip
    assert first.output == Path("/w/picture-0.mp4") and third.output.parent == Path("/w")

    head = compose.build_args(plan, part=first)
    assert "-ss" not in head and head[head.index("-frames:v") + 1] == "600"
    assert "-force_key_frames" not in head, "its only fade ends after it"
    assert "[a]" not in head and "-c:a" not in head and "+faststart" not in head
    assert head[-1] == "/w/picture-0.mp4"

    middle = compose.build_args(plan, part=second)
    assert middle[middle.index("-ss") + 1] == "20.000000"
    assert middle.index("-ss") < middle.index("-i")
    assert middle[middle.index("-frames:v") + 1] == "600" and "-t" not in middle
    assert middle[middle.index("-force_key_frames") + 1] == "0.200,9.200"
    graph = compose.build_filtergraph(plan, second)
    assert "fps=30:start_time=0," in graph and "[0:a:0]" not in graph
    assert "[1:v]" not in graph and "[4:v]" not in graph, "only its own slide's pictures"
    frames = [int(x.split("[")[0]) for x in graph.split("trim=end_frame=")[1:]]
    # in from the background, held, the build, held, out to the background
    assert frames == [6, 6, 264, 6, 6, 318, 6, 6]
    assert 6 + 264 + 6 + 318 + 6 == 600


def test_one_part_where_parts_would_not_pay() -> None:
    plan = _plan([0.0, 20.0])
    assert len(compose.split(dataclasses.replace(plan, duration=29.0), 2, Path("/w"))) == 1
    assert len(compose.split(dataclasses.replace(plan, encoder=compose.NVENC), 2, Path("/w"))) == 1
    assert len(compose.split(dataclasses.replace(plan, loop_video=True), 2, Path("/w"))) == 1
    high = dataclasses.replace(plan, quality=QUALITIES["high"])  # two 1080p runs: over 1 GB
    assert len(compose.split(high, 2, Path("/w"))) == 1
    (whole,) = compose.split(plan, 1, Path("/w"))
    assert whole == compose.Part(0, 1800, plan.output)


def test_segments_are_neither_too_short_nor_too_long() -> None:
    # one slide of 60 s: cut in its hold, so no segment passes 45 s
    assert [p.first for p in compose.split(_plan([0.0]), 2, Path("/w"))] == [0, 900]
    # a slide of 3 s shares its segment with the next
    assert [p.first for p in compose.split(_plan([0.0, 3.0, 33.0]), 2, Path("/w"))] == [0, 990]
    # a slide change 3 s before the end joins the last segment
    assert [p.first for p in compose.split(_plan([0.0, 30.0, 57.0]), 2, Path("/w"))] == [0, 900]


def test_a_long_hold_is_never_cut_inside_a_build_s_fade() -> None:
    """The first slide holds 50 s and a bullet fades in at 25 s, where the hold would be
    cut in two: the seam moves to the fade's end, so one segment holds the whole fade and
    each segment's slide half is as long as its picture."""
    plan = _plan([0.0, 24.95, 50.0], builds=(1,))
    parts = compose.split(plan, 2, Path("/w"))
    assert [(p.first, p.end) for p in parts] == [(0, 754), (754, 1500), (1500, 1800)]
    for part in parts:
        graph = compose.build_filtergraph(plan, part)
        # a hold is one still, a dissolve two (its x and y) as long as its fade
        held = [c for c in graph.split(";") if "trim=end_frame=" in c and not c.endswith("y]")]
        frames = sum(int(c.split("trim=end_frame=")[1].split("[")[0]) for c in held)
        assert frames == part.frames, (part, frames)


def test_a_later_part_keeps_the_talk_s_time_for_the_crop_and_the_captions() -> None:
    moved = [CropSegment(0.0, Box(100, 20, 640, 720)), CropSegment(40.0, Box(300, 20, 640, 720))]
    assert compose.crop_expr(moved, "x", 30.0) == "100+200*clip((t-10.000)/0.6,0,1)"
    assert compose.crop_expr(moved, "x", 45.0) == "300", "a move before the part is its start"
    plan = dataclasses.replace(_plan([0.0]), captions=Path("/w/c.srt"), burn_captions=True)
    graph = compose.build_filtergraph(plan, compose.Part(900, 1800, Path("/w/p.mp4")))
    assert "setpts=PTS+30.000000/TB,subtitles=filename=/w/c.srt" in graph
    assert graph.count("setpts=PTS-30.000000/TB[v]") == 1


def test_the_parts_are_joined_without_encoding_again() -> None:
    plan = dataclasses.replace(_plan([0.0]), captions=Path("/w/c.srt"), chapters=Path("/w/ch.txt"))
    args = compose.join_args(plan, Path("/w/list.txt"), Path("/w/sound.m4a"))
    assert args[args.index("-f") : args.index("-f") + 6] == [
        "-f", "concat", "-safe", "0", "-i", "/w/list.txt"
    ]  # fmt: skip
    assert args[args.index("-c:v") + 1] == "copy" and args[args.index("-c:a") + 1] == "copy"
    assert "-filter_complex" not in args and "+faststart" in args
    at = args.index("2:s")
    assert args[at - 1 : at + 3] == ["-map", "2:s", "-c:s", "mov_text"]
    assert args[args.index("-map_chapters") + 1] == "3"
    sound = compose.audio_args(plan, Path("/w/sound.m4a"))
    assert "volume=4.50dB" in sound[sound.index("-filter_complex") + 1]
    assert sound[sound.index("-t") + 1] == "60.000" and sound[-1] == "/w/sound.m4a"
    parts = [compose.Part(0, 505, Path("/w/it's.mp4")), compose.Part(505, 1010, Path("/w/b.mp4"))]
    listing = compose.concat_listing(parts, 30)
    # the MP4 header rounds 505 frames up to 16.834 s: the join must not start there
    assert listing == (
        "file '/w/it'\\''s.mp4'\nduration 16.833333\nfile '/w/b.mp4'\nduration 16.833333\n"
    )


def test_the_sheets_presenter_is_taken_at_a_keyframe_near_the_first_slides_middle() -> None:
    """The contact sheet's presenter frame is decoded alone where the output has a
    keyframe (after a build's fade) near the middle of the first slide; with none in its
    middle half, it is taken at the middle, decoded from the stretch's start."""
    from types import SimpleNamespace

    from presgend.pipeline import finish

    plan = _plan([0.0, 2.5, 9.0], builds=(1,))  # the first slide's bullet comes at 2.5 s
    keys = compose.keyframe_times(plan)
    assert keys[0] == 2.7 and len(keys) == 2  # a keyframe after the build's fade
    first = SimpleNamespace(sections=[SimpleNamespace(end=9.0)])
    at = finish.presenter_time(first, keys)  # type: ignore[arg-type]
    assert abs(at - 2.701) < 1e-9, "a millisecond past the keyframe, so the seek lands on it"
    long = SimpleNamespace(sections=[SimpleNamespace(end=40.0)])  # no keyframe in 10-30 s
    assert finish.presenter_time(long, keys) == 20.0  # type: ignore[arg-type]
    assert finish.presenter_time(SimpleNamespace(sections=[]), keys) == 1.0  # type: ignore[arg-type]
