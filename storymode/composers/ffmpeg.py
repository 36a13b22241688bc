"""The ffmpeg composer: frames streamed into the imageio-ffmpeg binary, captions burned from an ASS file."""
from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..backend import BackendOptions
from ..errors import BackendError, StorymodeError
from ..ffmpeg_exe import ffmpeg_exe
from ..timeline import Timeline
from ..workspace import atomic_path, atomic_write_bytes, atomic_write_text, fresh_file, is_plain_file, real_folder
from .base import Composer, FrameProgress, Video
from .captions import to_ass

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"


class FfmpegOptions(BackendOptions):
    """Options of the ffmpeg composer."""

    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    crf: int = Field(21, ge=0, le=51)
    burn_captions: bool = True
    highlight_words: bool = Field(True, description="light up each word as it is spoken")
    audio_bitrate: str = Field("160k", pattern=r"^\d{2,3}k$")
    loudness: float = Field(-16.0, ge=-40, le=-5, description="integrated loudness target, LUFS")
    music_level_db: float = Field(-12.0, ge=-40, le=6, description="music bed gain before ducking, dB")


def escape_ffmetadata(value: str) -> str:
    """Escape a value for ffmpeg's ffmetadata file format."""
    for ch in ("\\", "=", ";", "#", "\n"):
        value = value.replace(ch, "\\" + ch)
    return value


def chapters_file(timeline: Timeline, titles: list[str]) -> str:
    """An ffmetadata document with one chapter per scene."""
    parts = [";FFMETADATA1"]
    for scene, title in zip(timeline.scenes, titles):
        parts.append(f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={round(scene.start * 1000)}\n"
                     f"END={round(scene.end * 1000)}\ntitle={escape_ffmetadata(title)}")
    return "\n".join(parts) + "\n"


class FfmpegComposer(Composer):
    """H.264 + AAC MP4 through one ffmpeg process fed raw frames on stdin."""

    name = "ffmpeg"
    version = "1"
    description = "ffmpeg from imageio-ffmpeg: Ken Burns, crossfades, burned-in captions, chapters"
    Options = FfmpegOptions
    requires = ("imageio_ffmpeg", "cv2", "PIL", "numpy")

    def compose(self, timeline: Timeline, out: Path, workdir: Path, metadata: dict[str, str],
                progress: FrameProgress | None = None, chapter_titles: list[str] | None = None) -> Video:
        """Render the timeline into out, atomically; intermediate files go to workdir."""
        from .audio import mix_narration
        from .frames import FrameSource

        workdir.mkdir(parents=True, exist_ok=True)
        # without music the loudness target is met here, once, so ffmpeg only resamples
        mix_narration(timeline, workdir / "narration.wav", None if timeline.music else self.options.loudness)
        ass = to_ass(timeline.cues, timeline.width, timeline.height, highlight_words=self.options.highlight_words)
        atomic_write_text(workdir / "captions.ass", ass)
        titles = chapter_titles or [f"Scene {s.index + 1}" for s in timeline.scenes]
        atomic_write_text(workdir / "chapters.txt", chapters_file(timeline, titles))
        fonts = real_folder(workdir / "fonts", f"{workdir.name}/fonts")
        for font in FONT_DIR.glob("*.ttf"):
            if not is_plain_file(fonts / font.name):  # missing, or a link: replaced, never written through
                atomic_write_bytes(fonts / font.name, font.read_bytes())

        source = FrameSource(timeline)
        with atomic_path(Path(out), suffix=".part.mp4") as tmp:
            cmd = self._command(timeline, tmp.resolve(), metadata)
            self._run(cmd, source, workdir, progress)
        return Video(Path(out), source.frame_count / timeline.fps, timeline.width, timeline.height, timeline.fps,
                     source.frame_count)

    def _command(self, tl: Timeline, target: Path, metadata: dict[str, str]) -> list[str]:
        o = self.options
        # relative names only: the filter graph never holds a user path or user text
        video = "[0:v]subtitles=filename=captions.ass:fontsdir=fonts[v]" if o.burn_captions and tl.cues \
            else "[0:v]null[v]"
        # frames arrive as BT.601 limited-range I420 (OpenCV's conversion), so ffmpeg converts nothing
        inputs = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "smpte170m",
                  "-s", f"{tl.width}x{tl.height}", "-framerate", str(tl.fps),
                  "-i", "pipe:0", "-i", "narration.wav", "-f", "ffmetadata", "-i", "chapters.txt"]
        loud = f"loudnorm=I={o.loudness:.1f}:TP=-1.5:LRA=11,aresample=48000"
        if tl.music:
            inputs += ["-stream_loop", "-1", "-i", tl.music]
            fade_out = max(0.0, tl.duration - 3.0)
            audio = (
                "[1:a]aresample=48000,aformat=channel_layouts=mono,asplit=2[voice][key];"
                f"[3:a]aresample=48000,aformat=channel_layouts=mono,volume={o.music_level_db:.1f}dB,"
                f"afade=t=in:d=2,afade=t=out:st={fade_out:.3f}:d=3,atrim=0:{tl.duration:.3f}[bed];"
                # a real sidechain compressor: the voice pushes the music down while it speaks
                "[bed][key]sidechaincompress=threshold=0.015:ratio=10:attack=15:release=450:makeup=1[ducked];"
                f"[voice][ducked]amix=inputs=2:normalize=0:duration=first,{loud}[a]"
            )
        else:
            audio = "[1:a]aresample=48000[a]"
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inputs,
               "-filter_complex", f"{video};{audio}", "-map", "[v]", "-map", "[a]",
               "-map_metadata", "2", "-map_chapters", "2",
               "-c:v", "libx264", "-preset", o.preset, "-crf", str(o.crf), "-pix_fmt", "yuv420p",
               "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m",
               "-color_range", "tv",
               "-g", str(tl.fps * 2), "-c:a", "aac", "-b:a", o.audio_bitrate, "-ar", "48000", "-ac", "2",
               "-t", f"{tl.duration:.3f}", "-movflags", "+faststart"]
        for key, value in metadata.items():
            cmd += ["-metadata", f"{key}={value}"]
        return [*cmd, "-f", "mp4", str(target)]

    def _run(self, cmd: list[str], source: object, workdir: Path, progress: FrameProgress | None) -> None:
        from .frames import FrameSource

        assert isinstance(source, FrameSource)
        with fresh_file(workdir / "ffmpeg.log") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, cwd=workdir)
            try:
                assert proc.stdin is not None
                step = max(1, source.tl.fps)
                for n, planes in enumerate(source.i420()):
                    for plane in planes:
                        proc.stdin.write(memoryview(plane))
                    if progress and (n + 1) % step == 0:
                        progress(n + 1, source.frame_count)
                proc.stdin.close()
                code = proc.wait()
            except BrokenPipeError:
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                with contextlib.suppress(Exception):
                    if proc.stdin:
                        proc.stdin.close()
            log.seek(max(0, log.seek(0, 2) - 65536))
            written = log.read().decode(errors="replace")
        if progress:
            progress(source.frame_count, source.frame_count)
        if code != 0:
            tail = written.strip().splitlines()[-6:]
            detail = " | ".join(tail) or f"exit code {code}"
            if "No space left" in detail:
                raise StorymodeError(f"the disk is full while writing the video: {detail}")
            raise BackendError(f"ffmpeg failed: {detail}")

