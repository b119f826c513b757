"""Video keyframes and vPDQ: one frame a second and every scene change, each with its
time and PDQ hash.

ffmpeg decodes the stored video twice: once sampling one frame per second (as vPDQ
samples: every round(frame rate)-th frame), once keeping the frames
whose scene-change score exceeds `SCENE` (with their presentation times). Every frame
is written as a JPEG and hashed with PDQ. The runner stores each frame as a
``keyframe`` derivative of the video (its time, whether it is a scene change, its PDQ
hash and quality in the event) and the list of them as the ``keyframes`` result: the
video's vPDQ hash, which `vigil similar` and `vigil clusters` compare.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from vigil.enrich.pdq import pdq_hash
from vigil.errors import InputError

__all__ = ["FRAME_FILES", "FRAME_RESULT", "KeyframesDerivation", "extract_keyframes", "frame_name"]

SCENE = 0.4  # ffmpeg scene score above which a frame starts a new shot
MAX_SAMPLES = 7_200  # one per second: the first two hours
MAX_SCENES = 500
TIMEOUT = 3_600
FRAME_FILES = "_frame_files"  # result key: the frame files for the runner to store
FRAME_RESULT = ("t", "scene", "pdq", "quality")  # what each keyframe's event carries
_PTS = re.compile(r"\bpts_time:\s*([0-9.]+)")


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise InputError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    return found


def _run(command: list[str], name: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{name}: ffmpeg took over {TIMEOUT} s") from None
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or ["failed"]
        raise InputError(f"{name}: ffmpeg cannot decode it ({last[0][:300]})")
    return stderr


def _frame_rate(video: Path) -> float:
    """Frames per second of the first video stream (ffprobe), for one-a-second sampling."""
    ffprobe = shutil.which("ffprobe") or "ffprobe"
    command = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=avg_frame_rate,r_frame_rate", "-of", "json", str(video)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    streams = json.loads(done.stdout or "{}").get("streams") or [{}]
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(streams[0].get(key, "0/0")).partition("/")
        try:
            rate = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate < 1000:
            return rate
    raise InputError(f"{video.name}: no video stream with a frame rate")


def extract_keyframes(video: Path, folder: Path) -> list[dict[str, Any]]:
    """Frames of *video* written into *folder*: [{t, scene, path, pdq, quality}], by time.

    The one-a-second samples are frames 0, k, 2k, ... with k the frame rate rounded (as
    vPDQ samples them), so frame n shows second n / rate."""
    ffmpeg = _ffmpeg()
    rate = _frame_rate(video)
    every = max(1, round(rate))
    base = [ffmpeg, "-nostdin", "-hide_banner", "-i", str(video), "-an", "-sn", "-dn"]
    _run([*base, "-v", "error", "-vf", f"select='not(mod(n,{every}))'", "-fps_mode", "vfr",
          "-frames:v", str(MAX_SAMPLES), "-q:v", "3", str(folder / "s%06d.jpg")],
         video.name)  # fmt: skip
    log = _run([*base, "-v", "info", "-vf", f"select='gt(scene,{SCENE})',showinfo",
                "-fps_mode", "vfr", "-frames:v", str(MAX_SCENES), "-q:v", "3",
                str(folder / "c%06d.jpg")], video.name)  # fmt: skip
    frames: list[dict[str, Any]] = [
        {"t": round(n * every / rate, 3), "scene": False, "path": str(path)}
        for n, path in enumerate(sorted(folder.glob("s*.jpg")))
    ]
    times = [float(t) for t in _PTS.findall(log)]
    for t, path in zip(times, sorted(folder.glob("c*.jpg")), strict=False):
        frames.append({"t": round(t, 3), "scene": True, "path": str(path)})
    if not frames:
        raise InputError(f"{video.name}: no video frames")
    for frame in frames:
        found = pdq_hash(Path(frame["path"]))
        frame.update(pdq=found.hex, quality=found.quality)
    return sorted(frames, key=lambda f: (f["t"], f["scene"]))


def frame_name(frame: dict[str, Any]) -> str:
    """The file name of a stored keyframe: ``second-00012.jpg`` or ``scene-0012.480s.jpg``
    (OCR reads the scene ones)."""
    if frame["scene"]:
        return f"scene-{frame['t']:09.3f}s.jpg"
    return f"second-{int(frame['t']):05d}.jpg"


class KeyframesDerivation:
    """One frame a second and the scene changes of every video, with PDQ hashes (vPDQ)."""

    name = "keyframes"

    def tool(self) -> str:
        from vigil.enrich.pdq import tool_version

        done = subprocess.run([_ffmpeg(), "-version"], capture_output=True, text=True, check=False)
        version = (done.stdout.split() or ["?", "?", "?"])[2]
        return f"ffmpeg {version} fps=1 scene>{SCENE}; {tool_version()}"

    def applies(self, item: Any) -> bool:
        return str(item.media_type).startswith("video/") and item.kind != "segment"

    def derive(self, path: Path) -> dict[str, Any]:
        folder = Path(tempfile.mkdtemp(prefix="vigil-keyframes-"))
        try:
            frames = extract_keyframes(path, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"sampled_per_second": 1, "scene_threshold": SCENE, "frames": frames,
                FRAME_FILES: str(folder)}  # fmt: skip
