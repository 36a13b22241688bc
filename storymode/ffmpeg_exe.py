"""Where the ffmpeg binary is: the one imageio-ffmpeg ships (no system ffmpeg needed)."""
from __future__ import annotations

import functools

from .errors import MissingDependency


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingDependency("imageio-ffmpeg is not installed: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()
