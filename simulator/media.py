"""Real, deterministic media for a video id: an MP4 PyAV can open, a WebP thumbnail and a
JPEG spritesheet. Everything is derived from sha256(id) so a cache in front of the simulator
can verify it got exactly the bytes of the right video."""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import av
from av.codec.context import Flags
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 160, 90
FPS = 8
FRAMES = 8  # one second of video
SHEET_COLUMNS = 4
CHUNK_SIZE = 256 * 1024

VARIANTS: dict[str, str] = {
    "video": "video/mp4",
    "thumbnail": "image/webp",
    "spritesheet": "image/jpeg",
}


def _frames(video_id: str) -> list[Image.Image]:
    digest = hashlib.sha256(video_id.encode()).digest()
    background = (digest[0], digest[1], digest[2])
    square = (255 - digest[0], 255 - digest[1], 255 - digest[2])
    start_y = digest[3] % (HEIGHT - 30)
    frames = []
    for index in range(FRAMES):
        image = Image.new("RGB", (WIDTH, HEIGHT), background)
        draw = ImageDraw.Draw(image)
        x = (digest[4] + index * 16) % (WIDTH - 30)
        draw.rectangle((x, start_y, x + 29, start_y + 29), fill=square)
        # A stripe per frame index, so frames differ even where the square overlaps.
        draw.rectangle((0, HEIGHT - 6, (index + 1) * WIDTH // FRAMES, HEIGHT), fill=square)
        frames.append(image)
    return frames


def _encode_mp4(frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    # bitexact drops version strings; mpeg4 single-threaded is deterministic everywhere
    # (libx264 is not in every PyAV build and threads make it vary).
    container = av.open(buffer, "w", format="mp4", options={"fflags": "+bitexact"})
    stream = container.add_stream("mpeg4", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.codec_context.thread_count = 1
    stream.codec_context.flags |= Flags.bitexact
    for image in frames:
        for packet in stream.encode(av.VideoFrame.from_image(image)):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return buffer.getvalue()


def _encode_webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=80, method=4)
    return buffer.getvalue()


def _encode_spritesheet(frames: list[Image.Image]) -> bytes:
    rows = (len(frames) + SHEET_COLUMNS - 1) // SHEET_COLUMNS
    sheet = Image.new("RGB", (WIDTH * SHEET_COLUMNS, HEIGHT * rows))
    for index, image in enumerate(frames):
        sheet.paste(image, ((index % SHEET_COLUMNS) * WIDTH, (index // SHEET_COLUMNS) * HEIGHT))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def render(video_id: str) -> dict[str, bytes]:
    """All three variants of one video id (milliseconds of work)."""
    frames = _frames(video_id)
    return {
        "video": _encode_mp4(frames),
        "thumbnail": _encode_webp(frames[0]),
        "spritesheet": _encode_spritesheet(frames),
    }


class RenderCache:
    """Small LRU of rendered content per id; the padding is never stored, only streamed."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, dict[str, bytes]] = OrderedDict()

    def get(self, video_id: str) -> dict[str, bytes]:
        entry = self._entries.get(video_id)
        if entry is None:
            entry = render(video_id)
            self._entries[video_id] = entry
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(video_id)
        return entry


def pattern_block(seed: str, size: int = CHUNK_SIZE) -> bytes:
    """`size` deterministic pseudo-random bytes derived from `seed`."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


@dataclass(frozen=True)
class PaddedBody:
    """An MP4 followed by a top-level `free` box that brings it to at least `target` bytes.
    Players skip `free` boxes, so the padded file still opens."""

    base: bytes
    target: int
    seed: str

    @property
    def header(self) -> bytes:
        filler = self.target - len(self.base)
        if filler <= 0:
            return b""
        box = max(filler, 8)
        if box <= 0xFFFFFFFF:
            return box.to_bytes(4, "big") + b"free"
        # 64-bit box: size field 1, then the real size after the type.
        box = max(filler, 16)
        return (1).to_bytes(4, "big") + b"free" + box.to_bytes(8, "big")

    @property
    def length(self) -> int:
        filler = self.target - len(self.base)
        if filler <= 0:
            return len(self.base)
        box = int.from_bytes(self.header[:4], "big")
        if box == 1:
            box = int.from_bytes(self.header[8:16], "big")
        return len(self.base) + box

    def chunks(self) -> Iterator[bytes]:
        yield self.base
        header = self.header
        if not header:
            return
        yield header
        remaining = self.length - len(self.base) - len(header)
        block = pattern_block(self.seed)
        while remaining > 0:
            piece = block[: min(remaining, len(block))]
            remaining -= len(piece)
            yield piece
