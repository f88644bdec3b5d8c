"""``python -m vram``."""

from vram.cli import main

main()
