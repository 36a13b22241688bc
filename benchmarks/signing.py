"""Milliseconds to add Content Credentials to a story picture and a story video, and to verify them.

    python benchmarks/signing.py [--folder DIR] [--runs 5] [--seconds 30]

Makes a 968x544 PNG (Pillow) and a 720p MP4 of --seconds with sound (ffmpeg testsrc2 + a sine, H.264/AAC), then
times, --runs times each, median reported: the XMP fields on the PNG, signing each file (a fresh copy every run,
local chain, no timestamp authority), and reading the credentials back with the local CA as trust anchor.
Target: under 100 ms a file.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0


def make_media(folder: Path, seconds: float) -> tuple[Path, Path]:
    """A story-sized picture with texture (so it compresses like a real one) and a 720p video with audio."""
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:544, 0:968]
    base = np.stack([x * 255 // 968, y * 255 // 544, (x + y) * 255 // 1512], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    png = folder / "scene.png"
    Image.fromarray(pixels).save(png)
    mp4 = folder / "story.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-movflags", "+faststart", str(mp4)], check=True)
    return png, mp4


def median_ms(work, runs: int) -> float:
    """The median wall time of work() over runs calls, in milliseconds."""
    times = []
    for i in range(runs):
        t = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    """Make the media, time XMP, signing and verifying, print the table."""
    from storymode.provenance import (Provenance, add_ai_xmp, build_manifest, local_chain, read_credentials,
                                      sign_file)

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, help="where the media are made (default: a temporary folder)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the test video")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="storymode-signing-"))
    folder.mkdir(parents=True, exist_ok=True)
    png, mp4 = make_media(folder, args.seconds)
    chain = local_chain(folder / "signing")
    manifests = {
        png: build_manifest(Provenance("scene 1", "picture", "trainedAlgorithmicMedia",
                                       ("storymode 0.9.0", "diffusers illustrator 2"), ("stabilityai/sd-turbo",))),
        mp4: build_manifest(Provenance("the story", "video", "compositeSynthetic", ("storymode 0.9.0",),
                                       ("stabilityai/sd-turbo", "Kokoro-82M"), ("captions burned in",))),
    }
    sign_file(png, manifests[png], chain, dest=folder / "warm.png")  # load c2pa once, outside the timings

    def xmp(i: int) -> None:
        copy = folder / f"xmp-{i}.png"
        copy.write_bytes(png.read_bytes())
        t = time.perf_counter()
        add_ai_xmp(copy, source_type="trainedAlgorithmicMedia", tool="storymode 0.9.0", description="scene 1")
        xmp_times.append((time.perf_counter() - t) * 1000)

    xmp_times: list[float] = []
    for i in range(args.runs):
        xmp(i)
    print(f"{'file':<34}{'size':>10}{'sign ms':>10}{'verify ms':>11}{'target ms':>11}")
    print(f"{'XMP fields on the PNG':<34}{'':>10}{statistics.median(xmp_times):>10.1f}{'':>11}{TARGET_MS:>11.0f}")
    for source in (png, mp4):
        signed = [folder / f"signed-{i}{source.suffix}" for i in range(args.runs)]
        sign_ms = median_ms(lambda i: sign_file(source, manifests[source], chain, dest=signed[i]), args.runs)
        states = set()
        verify_ms = median_ms(lambda i: states.add(read_credentials(signed[i], chain.anchors_pem).state), args.runs)
        size = source.stat().st_size / 2**20
        label = f"{source.name} ({'968x544' if source == png else f'720p, {args.seconds:g} s'})"
        worst = max(sign_ms, verify_ms)
        print(f"{label:<34}{size:>8.1f}MB{sign_ms:>10.1f}{verify_ms:>11.1f}{TARGET_MS:>11.0f}"
              f"{'' if worst <= TARGET_MS else '  OVER'}  {'/'.join(sorted(states))}")


if __name__ == "__main__":
    main()
