"""Where photo files live: a small key -> bytes interface the engine writes through, so a
deployment may put them in an S3-like store instead of the local folder (the default).

Keys are made by the engine (``photos.file_keys``): content hashes, never user input. Files
are written before the command that records them commits and are named by their content, so
a rolled-back command leaves at most an unreferenced file, and the same photo twice is one file.
"""
from __future__ import annotations

import os
import re
import tempfile
from typing import Protocol

from .errors import NotFound

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, "instance", "photos")
_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}(-thumb)?\.jpg")


class PhotoStore(Protocol):
    """What the engine needs of a store: put a file under a key, get it back."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class LocalStore:
    """A folder on this machine (GRIDLOOP_PHOTO_DIR; ``instance/photos`` by default). Several
    web processes on one machine share it; several machines need a shared store."""

    def __init__(self, root: str):
        self.root = root

    def _path(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a photo key: {key!r}")
        return os.path.join(self.root, key)

    def put(self, key: str, data: bytes) -> None:
        """Write atomically (a temporary file renamed): a reader never sees half a photo."""
        path = self._path(key)
        if os.path.exists(path):  # named by content: already there
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise

    def get(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound("photo file missing from the store") from None


def from_env() -> PhotoStore:
    return LocalStore(os.environ.get("GRIDLOOP_PHOTO_DIR") or DEFAULT_DIR)
