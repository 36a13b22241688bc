"""The story as an editor timeline: an OpenTimelineIO timeline, written as OTIO JSON, as FCPXML (Final Cut Pro)
and as a Kdenlive project through the OTIO adapters.

Times are whole frames at the video's rate, cut exactly where the composer cuts (frames.FrameSource shows at
frame n the picture of the segment holding the instant (n + 0.5) / fps), so the clips add up to the video's
frame count. Media references are relative URLs from the exported file's folder; all three formats keep them.

What each adapter keeps (measured in tests/test_export_timeline.py):
- otio_json keeps everything: transitions, markers (with colours, ranges, comments) and metadata.
- fcpx_xml writes every clip, gap and marker with exact rational times, but drops transitions, effects and
  metadata, writes no timeline-level markers (so the markers are moved onto the scene clips here), and its reader
  truncates times (int() of a float: about one value in ten reads one frame short) and drops trailing gaps.
- kdenlive writes timeline markers as guides (name and colour, not their length), keeps clips, gaps and the
  music's fade effects, and drops transitions, clip markers and metadata; its reader ignores the project title.
Neither adapter maps any OTIO effect or metadata onto position/zoom keyframes, so the Ken Burns move lives in
each scene clip's metadata only (``metadata["storymode"]["motion"]``).
"""
from __future__ import annotations

import contextlib
import io
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio

from ..errors import UsageError
from ..ffmpeg_exe import ffmpeg_exe
from ..story import one_line
from ..timeline import Timeline, TimelineScene
from .base import ExportJob

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

CHAPTER_COLOR = otio.schema.MarkerColor.GREEN  # fcpx_xml keeps only GREEN and RED apart from its default PURPLE
CAPTION_COLOR = otio.schema.MarkerColor.PURPLE
CHAPTER_TITLE_CHARS = 60  # as the video's own chapters (pipeline.compose)
FADE_OUT_S = 0.6  # the picture's fade to black at the very end (composers.frames.FADE_OUT_S)
MUSIC_FADE_IN_S, MUSIC_FADE_OUT_S = 2.0, 3.0  # the music bed's fades (composers.ffmpeg, its afade filters)
FCPX_RATES = (24, 25, 30, 50, 60)  # the whole-number rates the fcpx_xml adapter has a frame duration for
TRANSITION_TYPES = {"crossfade": otio.schema.TransitionTypes.SMPTE_Dissolve}  # the others are custom


class Frames:
    """Seconds to whole frames the way the composer renders them, and frames to RationalTime."""

    def __init__(self, fps: int) -> None:
        self.fps = fps

    def at(self, seconds: float) -> int:
        """The first frame whose instant, (n + 0.5) / fps, is at or after seconds."""
        n = max(0, math.ceil(seconds * self.fps - 0.5))
        while n > 0 and (n - 0.5) / self.fps >= seconds:
            n -= 1
        while (n + 0.5) / self.fps < seconds:
            n += 1
        return n

    def after(self, seconds: float) -> int:
        """The first frame whose instant is strictly after seconds."""
        n = self.at(seconds)
        return n + 1 if (n + 0.5) / self.fps == seconds else n

    def time(self, frames: int) -> otio.opentime.RationalTime:
        """frames as a RationalTime at the timeline's rate."""
        return RationalTime(frames, self.fps)

    def span(self, start: int, duration: int) -> otio.opentime.TimeRange:
        """A TimeRange of whole frames."""
        return TimeRange(self.time(start), self.time(duration))


def scene_cuts(timeline: Timeline, frames: Frames) -> list[int]:
    """The frames where the picture changes: the first scene's first frame, then each scene's end (the last one is
    where the end card begins). A frame whose instant two segments share goes to the earlier, as in the composer."""
    return [frames.at(timeline.scenes[0].start), *(frames.at(scene.end) for scene in timeline.scenes)]


def frame_count(timeline: Timeline) -> int:
    """The video's number of frames, as the composer counts them."""
    return round(timeline.duration * timeline.fps)


def _url(job: ExportJob, media: str, dest: Path, what: str) -> str:
    """A relative, percent-encoded URL from dest's folder to a media file that must exist."""
    if not Path(media).is_file():
        raise UsageError(f"the {what} {media} is missing from the story folder; run `storymode make` on the story "
                         "again to remake it, then export again")
    return quote(job.relative(media, dest))


def _chapter_titles(job: ExportJob) -> list[str]:
    """Each timeline scene's title: its first line, as the video's chapters name it ("Scene N" if unknown)."""
    by_id = {scene.id: scene for scene in job.story.scenes}
    titles = []
    for scene in job.timeline.scenes:
        story_scene = by_id.get(scene.scene_id)
        title = one_line(story_scene.lines[0].text, CHAPTER_TITLE_CHARS) if story_scene else ""
        titles.append(title or f"Scene {scene.index + 1}")
    return titles


# ---------------------------------------------------------------- the picture track
def _motion_metadata(scene: TimelineScene) -> dict:
    move = scene.motion
    return {"kind": move.kind, "zoom_from": move.zoom_from, "zoom_to": move.zoom_to,
            "center_from": list(move.center_from), "center_to": list(move.center_to),
            "easing": "smoothstep", "center_unit": "fraction of the frame",
            "spans_transitions": True}  # the move runs from half a transition before the cut to half after


def _scene_clip(job: ExportJob, dest: Path, frames: Frames, scene: TimelineScene, length: int) -> otio.schema.Clip:
    still = otio.schema.ExternalReference(target_url=_url(job, scene.image, dest, "picture"),
                                          available_range=frames.span(0, length))
    return otio.schema.Clip(name=f"Scene {scene.index + 1}", media_reference=still,
                            source_range=frames.span(0, length),
                            metadata={"storymode": {"scene_id": scene.scene_id, "index": scene.index,
                                                    "motion": _motion_metadata(scene),
                                                    "transition_out": scene.transition}})


def _card(name: str, length: int, frames: Frames, details: dict) -> otio.schema.Gap:
    """A title or end card: the composer draws it (text over the blurred picture), so here it is a named gap."""
    return otio.schema.Gap(name=name, source_range=frames.span(0, length), metadata={"storymode": details})


def _transition(kind: str, leaving: int, coming: int, frames: Frames) -> otio.schema.Transition:
    return otio.schema.Transition(name=kind, transition_type=TRANSITION_TYPES.get(kind, "Custom_Transition"),
                                  in_offset=frames.time(leaving), out_offset=frames.time(coming),
                                  metadata={"storymode": {"kind": kind}})


def _transitions(timeline: Timeline, frames: Frames, cuts: list[int], lengths: list[int]) -> list:
    """For each cut, the transition the composer draws there (None for a cut): half of transition_s each side,
    counted in the frames that the composer blends, never longer than the items it joins."""
    half = timeline.transition_s / 2
    leaving_ends = [timeline.scenes[0].start, *(scene.end for scene in timeline.scenes)]
    coming_starts = [scene.start for scene in timeline.scenes] + [timeline.scenes[-1].end]
    kinds = ["crossfade", *(scene.transition for scene in timeline.scenes)]  # out of the title card: a crossfade
    out: list = []
    for n, (cut, kind) in enumerate(zip(cuts, kinds)):
        leaving = min(lengths[n], max(0, cut - frames.after(leaving_ends[n] - half)))
        coming = min(lengths[n + 1], max(0, frames.at(coming_starts[n] + half) - cut))
        out.append(None if kind == "cut" or leaving + coming == 0 else _transition(kind, leaving, coming, frames))
    return out


def _video_track(job: ExportJob, dest: Path, frames: Frames) -> otio.schema.Track:
    timeline = job.timeline
    cuts = scene_cuts(timeline, frames)
    bounds = [0, *cuts, max(cuts[-1], frame_count(timeline))]
    lengths = [b - a for a, b in zip(bounds, bounds[1:])]
    items: list = [_card("Title card", lengths[0], frames, {"card": "title", "text": timeline.title})]
    items += [_scene_clip(job, dest, frames, scene, length) for scene, length in zip(timeline.scenes, lengths[1:])]
    items.append(_card("End card", lengths[-1], frames, {"card": "end", "credits": list(timeline.credits),
                                                         "fade_to_black_s": FADE_OUT_S}))
    track = otio.schema.Track(name="Pictures", kind=otio.schema.TrackKind.Video)
    for item, transition in zip(items, [*_transitions(timeline, frames, cuts, lengths), None]):
        track.append(item)
        if transition is not None:
            track.append(transition)
    return track


# ---------------------------------------------------------------- the sound tracks
def _narration_tracks(job: ExportJob, dest: Path, frames: Frames) -> list[otio.schema.Track]:
    """One clip per narration file at its start, gaps between; a clip that would overlap the one before it goes
    on a second narration track."""
    total = frame_count(job.timeline)
    tracks: list[otio.schema.Track] = []
    ends: list[int] = []  # where each track's last clip ends
    for n, clip in enumerate(job.timeline.audio):
        start = min(frames.at(clip.start), total - 1)
        length = max(1, min(total, frames.at(clip.start + clip.duration)) - start)
        lane = next((i for i, end in enumerate(ends) if end <= start), None)
        if lane is None:
            tracks.append(otio.schema.Track(name=f"Narration {len(tracks) + 1}" if tracks else "Narration",
                                            kind=otio.schema.TrackKind.Audio))
            ends.append(0)
            lane = len(tracks) - 1
        if start > ends[lane]:
            tracks[lane].append(otio.schema.Gap(source_range=frames.span(0, start - ends[lane])))
        wav = otio.schema.ExternalReference(target_url=_url(job, clip.path, dest, "narration file"),
                                            available_range=frames.span(0, max(length, math.ceil(clip.duration
                                                                                                * frames.fps))))
        tracks[lane].append(otio.schema.Clip(
            name=f"Narration {n + 1}", media_reference=wav, source_range=frames.span(0, length),
            metadata={"storymode": {"start_s": clip.start, "duration_s": clip.duration}}))
        ends[lane] = start + length
    return tracks


def media_seconds(path: str) -> float:
    """How long an audio file plays, as the ffmpeg binary reads it; a UsageError when it cannot be read."""
    if not Path(path).is_file():
        raise UsageError(f"the music file {path} is missing; put it back, or make the story again without --music")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True, text=True,
                          errors="replace")
    found = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", proc.stderr)
    seconds = int(found[1]) * 3600 + int(found[2]) * 60 + float(found[3]) if found else 0.0
    if seconds <= 0:
        raise UsageError(f"the music file {path} has no length ffmpeg can read; give an mp3, wav, ogg, m4a or flac")
    return seconds


def _fade(name: str, seconds: float, limit: int, frames: Frames) -> otio.schema.Effect:
    """A Kdenlive audio fade ('fadein' / 'fadeout'): the kdenlive adapter writes and reads these names."""
    return otio.schema.Effect(name=name, effect_name=name,
                              metadata={"duration": frames.time(min(limit, round(seconds * frames.fps)))})


def _music_track(job: ExportJob, dest: Path, frames: Frames) -> otio.schema.Track:
    """The music bed, looped end to end as the composer loops it, cut at the end of the video."""
    music = str(job.timeline.music)
    loop = round(media_seconds(music) * frames.fps)
    if loop < 1:
        raise UsageError(f"the music file {music} is shorter than one frame; give a longer one")
    url = _url(job, music, dest, "music file")
    total = frame_count(job.timeline)
    track = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
    for start in range(0, total, loop):
        track.append(otio.schema.Clip(
            name="Music", source_range=frames.span(0, min(loop, total - start)),
            media_reference=otio.schema.ExternalReference(target_url=url, available_range=frames.span(0, loop)),
            metadata={"storymode": {"role": "music", "ducked_under_narration": True, "loop": start // loop + 1}}))
    clips = list(track.find_clips())
    clips[0].effects.append(_fade("fadein", MUSIC_FADE_IN_S, clips[0].duration().to_frames(), frames))
    clips[-1].effects.append(_fade("fadeout", MUSIC_FADE_OUT_S, clips[-1].duration().to_frames(), frames))
    return track


# ---------------------------------------------------------------- markers
def _markers(job: ExportJob, frames: Frames) -> Iterator[otio.schema.Marker]:
    """A chapter marker over each scene (its first line), then one marker per caption cue (its text)."""
    timeline = job.timeline
    cuts = scene_cuts(timeline, frames)
    for n, title in enumerate(_chapter_titles(job)):
        yield otio.schema.Marker(name=title, marked_range=frames.span(cuts[n], cuts[n + 1] - cuts[n]),
                                 color=CHAPTER_COLOR, comment=f"Scene {n + 1}",
                                 metadata={"storymode": {"kind": "chapter", "scene_id": timeline.scenes[n].scene_id}})
    for cue in timeline.cues:
        start = frames.at(cue.start)
        yield otio.schema.Marker(name=" ".join(cue.text.split()), comment=cue.text, color=CAPTION_COLOR,
                                 marked_range=frames.span(start, max(0, frames.at(cue.end) - start)),
                                 metadata={"storymode": {"kind": "caption", "speaker": cue.speaker,
                                                         "start_s": cue.start, "end_s": cue.end}})


# ---------------------------------------------------------------- the timeline and its three files
def build_otio(job: ExportJob, dest: Path) -> otio.schema.Timeline:
    """The story as an OTIO timeline at the video's frame rate: pictures with their transitions between the title
    and end cards, narration and music, chapter and caption markers; media referenced relative to dest's folder."""
    timeline = job.timeline
    if not timeline.scenes:
        raise UsageError("the timeline has no scenes; make the story again before exporting it")
    frames = Frames(timeline.fps)
    result = otio.schema.Timeline(name=timeline.title, global_start_time=frames.time(0), metadata={"storymode": {
        "width": timeline.width, "height": timeline.height, "fps": timeline.fps, "frames": frame_count(timeline),
        "credits": list(timeline.credits), "transition_s": timeline.transition_s}})
    result.tracks.append(_video_track(job, dest, frames))
    result.tracks.extend(_narration_tracks(job, dest, frames))
    if timeline.music:
        result.tracks.append(_music_track(job, dest, frames))
    result.tracks.markers.extend(_markers(job, frames))
    return result


def write_otio(job: ExportJob, dest: Path) -> None:
    """Write the story's timeline as OpenTimelineIO JSON (.otio) at dest."""
    otio.adapters.write_to_file(build_otio(job, dest), str(dest), adapter_name="otio_json")


def _markers_onto_clips(timeline: otio.schema.Timeline) -> None:
    """Move the timeline's markers onto the picture clips they start in, in clip time: the fcpx_xml adapter writes
    markers of clips only. A marker that starts on a card (none do) has no clip to go on and is dropped."""
    pictures = timeline.video_tracks()[0]
    clips = [(clip, clip.range_in_parent()) for clip in pictures.find_clips()]
    for marker in list(timeline.tracks.markers):
        start = marker.marked_range.start_time
        owner = next(((clip, where) for clip, where in clips if where.contains(start)), None)
        if owner is not None:
            clip, where = owner
            marker.marked_range = TimeRange(start - where.start_time, marker.marked_range.duration)
            clip.markers.append(marker)
    timeline.tracks.markers[:] = []


def _set_fcpx_format(xml: str, width: int, height: int) -> str:
    """The adapter's <format> gives only the frame rate (its name comes from ffprobe when found): add the size."""
    root = ET.fromstring(xml)
    for form in root.iter("format"):
        form.set("width", str(width))
        form.set("height", str(height))
        if not form.get("name"):
            form.attrib.pop("name", None)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n' + ET.tostring(root, encoding="unicode")


def write_fcpxml(job: ExportJob, dest: Path) -> None:
    """Write the story's timeline as FCPXML 1.8 (Final Cut Pro) at dest."""
    if job.timeline.fps not in FCPX_RATES:
        raise UsageError(f"FCPXML export needs one of {', '.join(map(str, FCPX_RATES))} fps; this story is "
                         f"{job.timeline.fps} fps. Make it again with --fps 24, 25 or 30")
    timeline = build_otio(job, dest)
    _markers_onto_clips(timeline)
    xml = otio.adapters.write_to_string(timeline, adapter_name="fcpx_xml")
    dest.write_text(_set_fcpx_format(xml, job.timeline.width, job.timeline.height), encoding="utf-8")


def _set_kdenlive_profile(xml: str, width: int, height: int) -> str:
    """The adapter writes a 1920x1080 16:9 profile whatever the timeline: give it the video's frame size."""
    root = ET.fromstring(xml)
    profile = root.find("profile")
    if profile is not None:
        divisor = math.gcd(width, height)
        profile.attrib.update({"width": str(width), "height": str(height), "description": f"{width}x{height} "
                               f"{profile.get('frame_rate_num')} fps", "display_aspect_num": str(width // divisor),
                               "display_aspect_den": str(height // divisor)})
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_kdenlive(job: ExportJob, dest: Path) -> None:
    """Write the story's timeline as a Kdenlive project (MLT XML) at dest."""
    timeline = build_otio(job, dest)
    with contextlib.redirect_stdout(io.StringIO()):  # the adapter prints a deprecation banner on every call
        xml = otio.adapters.write_to_string(timeline, adapter_name="kdenlive")
    dest.write_text(_set_kdenlive_profile(xml, job.timeline.width, job.timeline.height), encoding="utf-8")
