"""Photos as the engine keeps them: checked, re-encoded and stripped.

An upload must be a JPEG or PNG by its magic bytes *and* open in Pillow (only those two
decoders) within a size in bytes and in pixels, read before any pixel is decoded (a
decompression bomb is refused by its header). It is decoded in full (a truncated file is
refused), turned upright, and written anew as a JPEG: nothing of the uploaded file survives
but its pixels, so no script, comment, ICC profile or camera serial can ride along. Of its
metadata only when and where it was taken are kept (EXIF DateTimeOriginal and GPS), written
back into the new file and handed to the caller for the photo's row.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInput, TooLarge

MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
LONG_SIDE = 4096      # larger originals are scaled down to this on their long side
THUMB_SIDE = 320
QUALITY = 85
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Limits:
    """How large an upload may be: GRIDLOOP_PHOTO_MAX_BYTES (10 MiB) and
    GRIDLOOP_PHOTO_MAX_PIXELS (40 million: a phone's 12-50 MP photo scaled, not a bomb)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000

    @classmethod
    def from_env(cls) -> Limits:
        found = {}
        for field, var in (("max_bytes", "GRIDLOOP_PHOTO_MAX_BYTES"), ("max_pixels", "GRIDLOOP_PHOTO_MAX_PIXELS")):
            value = os.environ.get(var)
            if value:
                if not value.isdigit() or int(value) <= 0:
                    raise ValueError(f"{var} must be a positive whole number, not {value!r}")
                found[field] = int(value)
        return cls(**found)


@dataclass(frozen=True)
class Processed:
    """A photo ready to store: the re-encoded JPEG, its thumbnail, and what was kept of it."""

    image: bytes
    thumbnail: bytes
    width: int
    height: int
    taken_at: datetime | None
    gps: dict[str, float] | None


def _refuse(name: str, why: str, reason: str, cls: type[InvalidInput] = InvalidInput, **params: Any) -> InvalidInput:
    """The refusal of file ``name``, with the reason pages translate (``field.<reason>``)."""
    return cls(f"{name}: {why}", fields={name: why}, reason=reason, field_reasons={name: (reason, params)})


def process(data: bytes, limits: Limits, tz: tzinfo, name: str = "photo") -> Processed:
    """Check and re-encode one upload (InvalidInput naming ``name`` when it is not a photo we
    take, TooLarge when it is too large). ``tz``: the zone of a time taken without an offset."""
    if len(data) > limits.max_bytes:
        raise _refuse(name, f"file larger than {limits.max_bytes} bytes", "photo_bytes", TooLarge,
                      limit=limits.max_bytes)
    kind = next((fmt for magic, fmt in MAGIC.items() if data.startswith(magic)), None)
    if kind is None:
        raise _refuse(name, "not a JPEG or PNG image", "photo_type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            if image.width * image.height > limits.max_pixels:
                raise _refuse(name, f"too many pixels ({image.width}x{image.height}, at most {limits.max_pixels})",
                              "photo_pixels", TooLarge, limit=limits.max_pixels)
            image.load()
            exif = image.getexif()
            upright = ImageOps.exif_transpose(image)
    except TooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(name, "too many pixels", "photo_pixels", TooLarge, limit=limits.max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(name, f"not a readable {kind} image (damaged or truncated)", "photo_damaged") from None
    pixels = _flatten(upright)
    pixels.info = {}  # Pillow writes a comment, ICC profile, dpi ... it finds here into the new file
    pixels.thumbnail((LONG_SIDE, LONG_SIDE))
    taken_at, gps = _taken_at(exif, tz), _gps(exif)
    image_bytes = _jpeg(pixels, _exif_kept(exif, gps))
    thumb = pixels.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return Processed(image_bytes, _jpeg(thumb, None), pixels.width, pixels.height, taken_at, gps)


def _flatten(image: Image.Image) -> Image.Image:
    """Plain RGB: transparency on white, palettes and CMYK converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _jpeg(image: Image.Image, exif: Image.Exif | None) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": QUALITY, "optimize": True}
    if exif is not None:
        options["exif"] = exif.tobytes()
    image.save(out, "JPEG", **options)
    return out.getvalue()


# ------------------------------------------------------------------------------ what is kept

def _taken_at(exif: Image.Exif, tz: tzinfo) -> datetime | None:
    """EXIF DateTimeOriginal as UTC, with OffsetTimeOriginal or else in ``tz``; None if absent or bad."""
    tags = exif.get_ifd(EXIF_IFD)
    text, offset = tags.get(DATETIME_ORIGINAL), tags.get(OFFSET_ORIGINAL)
    try:
        taken = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: tzinfo = tz
    if isinstance(offset, str) and len(offset) >= 6 and offset[0] in "+-":
        try:
            sign = 1 if offset[0] == "+" else -1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        except ValueError:
            pass
    return taken.replace(tzinfo=zone).astimezone(timezone.utc)


def _degrees(value: Any, ref: Any, negative: str, bound: float) -> float | None:
    try:
        d, m, sec = (float(part) for part in value)
        degrees = d + m / 60 + sec / 3600
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if str(ref).strip("\x00 ").upper() == negative:
        degrees = -degrees
    return round(degrees, 7) if -bound <= degrees <= bound else None


def _gps(exif: Image.Exif) -> dict[str, float] | None:
    """Where it was taken, as decimal degrees (and metres of altitude when given)."""
    tags = exif.get_ifd(GPS_IFD)
    lat = _degrees(tags.get(GPS_LAT), tags.get(GPS_LAT_REF), "S", 90)
    lon = _degrees(tags.get(GPS_LON), tags.get(GPS_LON_REF), "W", 180)
    if lat is None or lon is None:
        return None
    found = {"lat": lat, "lon": lon}
    try:
        altitude = float(tags[GPS_ALT])
        found["alt"] = round(-altitude if tags.get(GPS_ALT_REF) in (1, b"\x01") else altitude, 2)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    return found


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 4)


def _exif_kept(exif: Image.Exif, gps: dict[str, float] | None) -> Image.Exif | None:
    """A new EXIF block holding only DateTimeOriginal (and its offset) and the GPS position."""
    kept = Image.Exif()
    original = exif.get_ifd(EXIF_IFD)
    when = {tag: original[tag] for tag in (DATETIME_ORIGINAL, OFFSET_ORIGINAL) if isinstance(original.get(tag), str)}
    if when:
        kept.get_ifd(EXIF_IFD).update(when)
    if gps is not None:
        where = kept.get_ifd(GPS_IFD)
        where.update({GPS_LAT_REF: "N" if gps["lat"] >= 0 else "S", GPS_LAT: _dms(gps["lat"]),
                      GPS_LON_REF: "E" if gps["lon"] >= 0 else "W", GPS_LON: _dms(gps["lon"])})
        if "alt" in gps:
            where.update({GPS_ALT_REF: 0 if gps["alt"] >= 0 else 1, GPS_ALT: abs(gps["alt"])})
    return kept if when or gps is not None else None
