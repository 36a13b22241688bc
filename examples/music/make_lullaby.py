"""Make lullaby.ogg, the gallery's music bed: C-Am-F-G pads with a soft bell arpeggio, 25 s, from sine waves.

Made by the storymode project with the ffmpeg binary that imageio-ffmpeg ships; free to use (CC0).
Run: python examples/music/make_lullaby.py
"""
import subprocess
from pathlib import Path

from storymode.ffmpeg_exe import ffmpeg_exe

CHORDS = [(261.63, 329.63, 392.00, 130.81), (220.00, 261.63, 329.63, 110.00),  # C, Am
          (174.61, 220.00, 261.63, 87.31), (196.00, 246.94, 293.66, 98.00)]    # F, G (three tones + a bass)
BAR = 6.0
parts = []
for i, (a, b, c, bass) in enumerate(CHORDS):
    t0 = i * BAR
    envelope = f"between(t,{t0},{t0 + BAR + 1})*min(1,(t-{t0}))*exp(-0.35*(t-{t0}))"
    parts.append(f"{envelope}*(0.16*sin(2*PI*{a}*t)+0.13*sin(2*PI*{b}*t)+0.12*sin(2*PI*{c}*t)"
                 f"+0.18*sin(2*PI*{bass}*t))")
    for k, f in enumerate((a, b, c, b)):  # a bell an octave up, one note every 1.5 s
        s = t0 + 1.5 * k
        parts.append(f"gte(t,{s})*0.07*exp(-2.2*(t-{s}))*sin(2*PI*{2 * f}*t)")
out = Path(__file__).with_name("lullaby.ogg")
subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                "-i", f"aevalsrc='{'+'.join(parts)}':s=44100:d=25",
                "-af", "afade=t=in:d=1,afade=t=out:st=22:d=3,aecho=0.8:0.7:180:0.25,volume=4",
                "-ac", "2", "-c:a", "libvorbis", "-q:a", "2", str(out)], check=True)
print(out, out.stat().st_size, "bytes")
