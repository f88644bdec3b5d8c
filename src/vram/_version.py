"""The package version: the single source hatch reads at build time and vram reports at run time."""

__version__ = "0.1.0"
