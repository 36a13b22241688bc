"""Editor timelines (OTIO JSON, FCPXML, Kdenlive): each file read back with its own adapter matches the frames the
composer renders, names media that exist, keeps its markers, and carries hostile text through unharmed."""
from __future__ import annotations

import contextlib
import io
import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import opentimelineio as otio
import pytest

from storymode.composers.frames import FrameSource
from storymode.errors import UsageError
from storymode.outputs.base import ExportJob
from storymode.outputs.editor_timeline import build_otio, write_fcpxml, write_kdenlive, write_otio
from storymode.sound.wav import write_wav
from storymode.story import one_line

HOSTILE = "<script>alert(1)</script> & \"it's\" ]]> Fox"
WRITERS = {"otio_json": (write_otio, "otio"), "fcpx_xml": (write_fcpxml, "fcpxml"),
           "kdenlive": (write_kdenlive, "kdenlive")}
GREEN, PURPLE = otio.schema.MarkerColor.GREEN, otio.schema.MarkerColor.PURPLE


def read_back(path: Path, adapter: str) -> otio.schema.Timeline:
    """The file read by its own adapter (the kdenlive one prints a banner; the fcpx one may wrap the timeline)."""
    with contextlib.redirect_stdout(io.StringIO()):
        result = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    return result if isinstance(result, otio.schema.Timeline) else result[0]


def write_all(job: ExportJob, folder: Path, stem: str = "editor") -> dict[str, Path]:
    """The three files written into folder; adapter name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for adapter, (write, suffix) in WRITERS.items():
        paths[adapter] = folder / f"{stem}.{suffix}"
        write(job, paths[adapter])
    return paths


def composer_segments(timeline) -> list[tuple[object, int, int]]:
    """What the composer shows, frame by frame, as runs: (segment, first frame, frame count). Found by asking the
    composer's own segment list which segment holds each frame's instant, with its own rule (first match)."""
    source = FrameSource(timeline)
    runs: list[list] = []
    for n in range(source.frame_count):
        t = (n + 0.5) / timeline.fps
        k = next((i for i, (_, a, b) in enumerate(source.segments) if a <= t < b), len(source.segments) - 1)
        if runs and runs[-1][0] == k:
            runs[-1][2] += 1
        else:
            runs.append([k, n, 1])
    return [(source.segments[k][0], first, count) for k, first, count in runs]


def blended_frames(timeline) -> list[tuple[int, int]]:
    """Per cut, how many frames the composer blends before and after it (its transition test, frame by frame)."""
    source = FrameSource(timeline)
    half = timeline.transition_s / 2
    before = [0] * (len(source.segments) - 1)
    after = [0] * (len(source.segments) - 1)
    for n in range(source.frame_count):
        t = (n + 0.5) / timeline.fps
        k = next((i for i, (_, a, b) in enumerate(source.segments) if a <= t < b), len(source.segments) - 1)
        _, start, end = source.segments[k]
        if k + 1 < len(source.segments) and end - t < half:
            before[k] += 1
        elif k > 0 and t - start < half:
            after[k - 1] += 1
    return list(zip(before, after))


def first_frame(seconds: float, fps: int) -> int:
    """The first frame whose instant (n + 0.5) / fps is at or after seconds (how the composer starts a segment)."""
    return next(n for n in range(max(0, math.floor(seconds * fps) - 2), 10 ** 9) if (n + 0.5) / fps >= seconds)


def resolves(url: str, folder: Path, encoded: bool) -> Path:
    """A relative media reference as a file path from folder (percent-decoded where the format encodes)."""
    assert not url.startswith(("/", "file:")), f"not relative: {url}"
    return (folder / (unquote(url) if encoded else url)).resolve()


def track_spans(track: otio.schema.Track) -> list[tuple[int, int]]:
    """(start frame, frame count) of each clip on a track, as the track places it."""
    return [(clip.range_in_parent().start_time.to_frames(), clip.duration().to_frames())
            for clip in track.find_clips()]


def picture_track(timeline: otio.schema.Timeline) -> otio.schema.Track:
    """The only video track."""
    (track,) = timeline.video_tracks()
    return track


@pytest.fixture(scope="module")
def written(export_job: ExportJob) -> dict[str, Path]:
    """The fox story's three editor timelines, in its exports folder."""
    return write_all(export_job, export_job.story_dir / "exports")


@pytest.fixture(scope="module")
def expected(export_job: ExportJob) -> dict:
    """What the files must say, from the timeline and the composer: picture spans, narration spans, frames."""
    tl = export_job.timeline
    runs = composer_segments(tl)
    narration = []
    for clip in tl.audio:
        start = first_frame(clip.start, tl.fps)
        narration.append((start, first_frame(clip.start + clip.duration, tl.fps) - start))
    return {"frames": round(tl.duration * tl.fps), "runs": runs,
            "pictures": [(first, count) for seg, first, count in runs if isinstance(seg, int)],
            "narration": narration}


@pytest.mark.parametrize("adapter", WRITERS)
def test_reads_back_with_its_adapter(written: dict, expected: dict, export_job: ExportJob, adapter: str) -> None:
    back = read_back(written[adapter], adapter)
    tl = export_job.timeline
    assert back.duration().rate == tl.fps
    pictures, narration = picture_track(back), back.audio_tracks()[0]
    assert len(pictures.find_clips()) == len(tl.scenes)
    assert len(narration.find_clips()) == len(tl.audio)
    assert len(back.audio_tracks()) == 1  # no music in this story
    if adapter == "fcpx_xml":
        # its reader takes int() of float seconds times the rate: a time can read one frame short, and the end
        # card (a trailing gap) is not read; the exact values are checked in the XML itself below
        for got, want in zip(track_spans(pictures) + track_spans(narration),
                             expected["pictures"] + expected["narration"]):
            assert all(0 <= w - g <= 1 for g, w in zip(got, want)), (got, want)
        assert back.duration().to_frames() == expected["pictures"][-1][0] + expected["pictures"][-1][1]
    else:
        assert track_spans(pictures) == expected["pictures"]
        assert track_spans(narration) == expected["narration"]
        assert back.duration().to_frames() == expected["frames"]
        # the picture track tiles the whole video: title card, scenes, end card, as the composer shows them
        items = [item for item in pictures if not isinstance(item, otio.schema.Transition)]
        assert [item.duration().to_frames() for item in items] == [count for _, _, count in expected["runs"]]


@pytest.mark.parametrize("adapter", WRITERS)
def test_media_references_resolve_in_the_story_folder(written: dict, export_job: ExportJob, adapter: str) -> None:
    back = read_back(written[adapter], adapter)
    folder, story = written[adapter].parent, export_job.story_dir.resolve()
    encoded = adapter != "kdenlive"  # the kdenlive adapter decodes the URL into a plain path
    pictures = [resolves(c.media_reference.target_url, folder, encoded) for c in picture_track(back).find_clips()]
    voices = [resolves(c.media_reference.target_url, folder, encoded) for c in back.audio_tracks()[0].find_clips()]
    assert pictures == [Path(s.image).resolve() for s in export_job.timeline.scenes]
    assert voices == [Path(a.path).resolve() for a in export_job.timeline.audio]
    for path in pictures + voices:
        assert path.is_file() and path.is_relative_to(story), path


def test_otio_json_keeps_transitions_motion_and_markers(written: dict, export_job: ExportJob) -> None:
    back = read_back(written["otio_json"], "otio_json")
    tl = export_job.timeline
    transitions = [item for item in picture_track(back) if isinstance(item, otio.schema.Transition)]
    kinds = ["crossfade", *(s.transition for s in tl.scenes)]
    assert [t.name for t in transitions] == [k for k in kinds if k != "cut"]
    for transition, kind in zip(transitions, [k for k in kinds if k != "cut"]):
        want = otio.schema.TransitionTypes.SMPTE_Dissolve if kind == "crossfade" else "Custom_Transition"
        assert transition.transition_type == want
    # each transition covers exactly the frames the composer blends on each side of its cut
    blends = [pair for pair, kind in zip(blended_frames(tl), kinds) if kind != "cut"]
    assert [(t.in_offset.to_frames(), t.out_offset.to_frames()) for t in transitions] == blends
    for clip, scene in zip(picture_track(back).find_clips(), tl.scenes):
        motion = clip.metadata["storymode"]["motion"]
        assert motion["kind"] == scene.motion.kind
        # OTIO's JSON writer keeps 16 significant digits, not always the 17 a float may need
        exact = pytest.approx([scene.motion.zoom_from, scene.motion.zoom_to, *scene.motion.center_from,
                               *scene.motion.center_to], rel=1e-14)
        assert [motion["zoom_from"], motion["zoom_to"], *motion["center_from"], *motion["center_to"]] == exact
    chapters = [m for m in back.tracks.markers if m.color == GREEN]
    captions = [m for m in back.tracks.markers if m.color == PURPLE]
    assert [m.name for m in chapters] == [one_line(s.lines[0].text, 60) for s in export_job.story.scenes]
    assert [(m.marked_range.start_time.to_frames(), m.marked_range.duration.to_frames()) for m in chapters] == \
        track_spans(picture_track(back))
    assert [m.name for m in captions] == [" ".join(cue.text.split()) for cue in tl.cues]
    assert [m.comment for m in captions] == [cue.text for cue in tl.cues]
    assert [m.marked_range.start_time.to_frames() for m in captions] == [first_frame(c.start, tl.fps) for c in tl.cues]


def test_kdenlive_keeps_markers_as_guides_and_the_frame_size(written: dict, export_job: ExportJob) -> None:
    back = read_back(written["kdenlive"], "kdenlive")
    tl = export_job.timeline
    full = build_otio(export_job, written["kdenlive"])
    # guides keep name, colour and position; their length and every transition are dropped by the adapter
    assert [(m.name, m.color, m.marked_range.start_time.to_frames()) for m in back.tracks.markers] == \
        [(m.name, m.color, m.marked_range.start_time.to_frames()) for m in full.tracks.markers]
    assert sum(m.color == GREEN for m in back.tracks.markers) == len(tl.scenes)
    assert not [item for item in picture_track(back) if isinstance(item, otio.schema.Transition)]
    profile = ET.parse(written["kdenlive"]).getroot().find("profile")
    assert (int(profile.get("width")), int(profile.get("height"))) == (tl.width, tl.height)
    assert int(profile.get("frame_rate_num")) == tl.fps


def test_fcpxml_times_are_exact_and_markers_sit_on_the_scene_clips(written: dict, expected: dict,
                                                                   export_job: ExportJob) -> None:
    tl = export_job.timeline
    root = ET.parse(written["fcpx_xml"]).getroot()
    (fmt,) = root.iter("format")
    assert (int(fmt.get("width")), int(fmt.get("height"))) == (tl.width, tl.height)

    def frames(value: str) -> Fraction:
        return Fraction(value.rstrip("s") or "0") * tl.fps

    sequence = root.find("./project/sequence")
    assert frames(sequence.get("duration")) == expected["frames"]
    spine = [(frames(e.get("offset")), frames(e.get("duration"))) for e in sequence.find("spine")]
    assert spine == [(first, count) for _, first, count in expected["runs"]]  # whole frames, exactly
    back = read_back(written["fcpx_xml"], "fcpx_xml")
    markers = [(m.name, m.color, (clip.range_in_parent().start_time + m.marked_range.start_time).to_frames())
               for clip in picture_track(back).find_clips() for m in clip.markers]
    full = build_otio(export_job, written["fcpx_xml"])
    want = [(m.name, m.color, m.marked_range.start_time.to_frames()) for m in full.tracks.markers]
    assert sorted(n for n, _, _ in markers) == sorted(n for n, _, _ in want)
    assert sum(c == GREEN for _, c, _ in markers) == len(tl.scenes)
    for (name, color, at), (name2, color2, at2) in zip(sorted(markers), sorted(want)):
        assert (name, color) == (name2, color2) and abs(at - at2) <= 1  # the reader's truncation again


def test_music_loops_to_the_end_with_its_fades(export_job: ExportJob, tmp_path: Path) -> None:
    rate, seconds = 16000, 7.3
    samples = 0.2 * np.sin(2 * np.pi * 220 * np.arange(int(rate * seconds)) / rate)
    music = tmp_path / "our music's #1.wav"
    write_wav(music, samples.astype(np.float32), rate)
    job = ExportJob(story=export_job.story, timeline=export_job.timeline.model_copy(update={"music": str(music)}),
                    story_dir=export_job.story_dir)
    paths = write_all(job, tmp_path / "exports")
    total, loop = round(job.timeline.duration * job.timeline.fps), round(seconds * job.timeline.fps)
    for adapter in ("otio_json", "kdenlive"):
        back = read_back(paths[adapter], adapter)
        track = back.audio_tracks()[-1]
        spans = track_spans(track)
        assert spans[0][0] == 0 and sum(count for _, count in spans) == total
        assert all(count == loop for _, count in spans[:-1])
        encoded = adapter != "kdenlive"
        assert {resolves(c.media_reference.target_url, paths[adapter].parent, encoded)
                for c in track.find_clips()} == {music.resolve()}
        clips = track.find_clips()
        assert [e.effect_name for e in clips[0].effects] == ["fadein"]
        assert [e.effect_name for e in clips[-1].effects] == ["fadeout"]
    fcpx = read_back(paths["fcpx_xml"], "fcpx_xml")
    assert len(fcpx.audio_tracks()) == 2 and len(fcpx.audio_tracks()[-1].find_clips()) == math.ceil(total / loop)


def test_hostile_text_survives_every_format(export_job: ExportJob, tmp_path: Path) -> None:
    story = export_job.story
    first = story.scenes[0]
    lines = [first.lines[0].model_copy(update={"text": HOSTILE}), *first.lines[1:]]
    story = story.model_copy(update={"title": HOSTILE, "scenes": [first.model_copy(update={"lines": lines}),
                                                                   *story.scenes[1:]]})
    cues = [export_job.timeline.cues[0].model_copy(update={"text": HOSTILE + "\n]]>"}), *export_job.timeline.cues[1:]]
    timeline = export_job.timeline.model_copy(update={"title": HOSTILE, "cues": cues})
    paths = write_all(ExportJob(story=story, timeline=timeline, story_dir=export_job.story_dir), tmp_path)
    for adapter, path in paths.items():
        if adapter != "otio_json":
            root = ET.parse(path).getroot()  # well-formed, and the text stayed text
            assert not [e for e in root.iter() if e.tag == "script"]
        back = read_back(path, adapter)
        markers = list(back.tracks.markers) or [m for c in picture_track(back).find_clips() for m in c.markers]
        names = [m.name for m in markers]
        assert HOSTILE in names  # the first scene's chapter
        assert f"{HOSTILE} ]]>" in names  # the first caption, its two lines as one
        if adapter == "kdenlive":
            assert ET.parse(path).getroot().get("title") == HOSTILE  # the adapter's reader ignores the title
        else:
            assert back.name == HOSTILE


def test_refuses_what_it_cannot_write(export_job: ExportJob, tmp_path: Path) -> None:
    gone = export_job.timeline.scenes[0].model_copy(update={"image": str(tmp_path / "gone.png")})
    broken = export_job.timeline.model_copy(update={"scenes": [gone, *export_job.timeline.scenes[1:]]})
    job = ExportJob(story=export_job.story, timeline=broken, story_dir=export_job.story_dir)
    with pytest.raises(UsageError, match="gone.png is missing"):
        write_otio(job, tmp_path / "a.otio")
    no_music = ExportJob(story=export_job.story, story_dir=export_job.story_dir,
                         timeline=export_job.timeline.model_copy(update={"music": str(tmp_path / "gone.mp3")}))
    with pytest.raises(UsageError, match="music file .*gone.mp3 is missing"):
        write_kdenlive(no_music, tmp_path / "a.kdenlive")
    odd_rate = ExportJob(story=export_job.story, timeline=export_job.timeline.model_copy(update={"fps": 23}),
                         story_dir=export_job.story_dir)
    with pytest.raises(UsageError, match="fps"):
        write_fcpxml(odd_rate, tmp_path / "a.fcpxml")
    assert not [p.name for p in tmp_path.iterdir()]
