"""``vram inspect``: the resolved architecture, and where each value came from."""

import sys
from typing import Annotated

import typer

from vram.cli._errors import ExitCode
from vram.cli._options import JsonOpt, guard


def inspect(
    model: Annotated[str, typer.Argument(help="Same references as `vram estimate`.", show_default=False)],
    revision: Annotated[str | None, typer.Option(help="Hub repos: branch, tag or commit.", show_default=False)] = None,
    token: Annotated[str | None, typer.Option(help="Hub token for gated or private repos.", show_default=False)] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never use the network.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the resolved architecture and where each value came from (config.json, a default, a rule)."""
    with guard():
        from pathlib import Path

        from vram import __version__
        from vram.report.inspect import build_inspect, render_json
        from vram.resolve import resolve

        resolved = resolve(model, revision=revision, token=token, offline=offline)
        if resolved.spec is None or resolved.config is None:
            print(
                f"error: {model.strip()!r} is a parameter count, which has no architecture to inspect\n"
                "  next: pass a model: a catalog id (`vram models`), a Hub repo id (org/name), a config.json or a "
                f".gguf file; `vram estimate {model.strip()}` prices the weights of a bare count",
                file=sys.stderr,
            )
            raise typer.Exit(ExitCode.USAGE)
        sources = None
        if resolved.checkpoint is not None and resolved.checkpoint.source == "gguf" and resolved.location:
            from vram.resolve.gguf_file import gguf_config, read_gguf

            # The resolver keeps the config it built, not the file keys behind it: read the header again.
            meta, infos, _ = read_gguf(Path(resolved.location))
            sources = gguf_config(meta, infos)[1]
        doc = build_inspect(resolved, __version__, sources)
        if json_out:
            print(render_json(doc))
        else:
            from vram.report.table import inspect_table, print_out

            print_out(*inspect_table(doc))
        for w in doc.warnings:
            print(f"warning: {w}", file=sys.stderr)
