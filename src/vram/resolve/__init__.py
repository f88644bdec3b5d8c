"""Model references -> ModelSpec. All I/O (local files, package data, the Hub) lives here."""

from vram.resolve.reference import Resolved, resolve

__all__ = ["Resolved", "resolve"]
