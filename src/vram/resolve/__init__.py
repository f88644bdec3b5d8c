"""Model references -> ModelSpec. All I/O (files, package data, later the Hub) lives here."""

from vram.resolve.reference import Resolved, resolve

__all__ = ["Resolved", "resolve"]
