"""Estimates and catalogs as Rich tables (the only module that imports rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from vram.report.document import ComponentDoc, EstimateDocument, GpuDoc, ModelDoc
from vram.report.units import Units, fmt_bytes, fmt_params

if TYPE_CHECKING:  # the documents are only read here; importing them costs start-up
    from vram.report.fit import FitDocument
    from vram.report.inspect import InspectDocument
    from vram.report.listing import DtypesDocument, GpusDocument, ModelsDocument
    from vram.report.training import TrainingDocument, TrainingSettingsDoc

_LABELS = {"kv_cache": "KV cache", "master_weights": "master weights"}
"""Row labels where they differ from the component's key."""


def _heading(m: ModelDoc) -> Text:
    """The model's id in bold and where its description came from."""
    head = Text()
    head.append(m.id, style="bold")
    where = f"{m.source} @ {m.revision[:12]}" if m.revision else m.source
    head.append(f"  ({where})\n", style="dim")
    return head


def _components(components: dict[str, ComponentDoc], total_bytes: int, units: Units) -> Table:
    """Component, size, share of the total and the note behind it, with the total as footer."""
    table = Table(box=box.SIMPLE_HEAD, show_footer=True, pad_edge=False)
    table.add_column("component", footer="total")
    table.add_column("size", justify="right", footer=fmt_bytes(total_bytes, units))
    table.add_column("share", justify="right", footer="100%")
    table.add_column("note", overflow="fold")
    total = total_bytes or 1
    for name, c in components.items():
        table.add_row(_LABELS.get(name, name), fmt_bytes(c.bytes, units), f"{c.bytes / total:.0%}", c.note)
    return table


def _verdict(g: GpuDoc, units: Units, *, vllm: bool = False) -> Text:
    """The --gpu line: fits with its headroom, or does not fit and by how much (for vLLM: whether it starts)."""
    verdict = Text()
    usable = fmt_bytes(g.usable_memory_bytes, units)
    if g.usable_memory_bytes == g.memory_bytes:
        verdict.append(f"{g.name} ({usable}): ")
    else:
        verdict.append(f"{g.name} ({usable} usable of {fmt_bytes(g.memory_bytes, units)}): ")
    if g.fits:
        verdict.append("vLLM starts" if vllm else "fits", style="bold green")
        spare = " KV pool beyond one max-length request" if vllm else " headroom"
        verdict.append(f", {fmt_bytes(g.headroom_bytes, units)}{spare}")
    else:
        verdict.append("vLLM would not start" if vllm else "does not fit", style="bold red")
        short = " of KV pool for one max-length request" if vllm else ""
        verdict.append(f", short by {fmt_bytes(-g.headroom_bytes, units)}{short}")
    return verdict


def estimate_table(doc: EstimateDocument, units: Units) -> list[Table | Text]:
    """The renderables for one estimate: a heading, the component table and the GPU verdict."""
    m, s = doc.model, doc.settings
    head = _heading(m)
    facts = [m.architecture or "rule of thumb", f"{fmt_params(m.parameters)} params"]
    if m.active_parameters != m.parameters:
        facts.append(f"{fmt_params(m.active_parameters)} active")
    facts.append(s.dtype)
    rt = doc.runtime
    if rt is not None and rt.name == "vllm":
        facts += [f"vLLM, max-model-len {s.seq_len:,}", f"KV {s.kv_dtype}"]
    elif rt is not None and rt.name == "llama.cpp":
        facts += [f"llama.cpp, ctx-size {s.seq_len:,}", f"parallel {s.batch}", f"KV {s.kv_dtype}"]
    elif s.seq_len is not None:
        facts += [f"batch {s.batch}", f"context {s.seq_len:,}", f"KV {s.kv_dtype}"]
    if doc.parallel is not None and doc.parallel.tp * doc.parallel.pp > 1:
        facts.append(f"TP {doc.parallel.tp} x PP {doc.parallel.pp}, per GPU")
    head.append(" · ".join(facts))
    if doc.scope == "weights_only":
        head.append("\nweights only: a parameter count has no architecture for KV cache, activations or overhead")
    elif not m.exact:
        see = " (see warnings)" if doc.warnings else ""
        head.append(f"\napproximate: this architecture is not mapped exactly{see}", style="yellow")

    out: list[Table | Text] = [head, _components(doc.components, doc.total_bytes, units)]
    if rt is not None and rt.name == "vllm" and rt.max_concurrency is not None:
        out.append(
            Text(
                f"vLLM would print: GPU KV cache size: {rt.kv_cache_tokens:,} tokens; maximum concurrency for "
                f"{rt.max_model_len:,} tokens per request: {rt.max_concurrency:.2f}x "
                f"(max-num-batched-tokens {rt.max_num_batched_tokens:,}, max-num-seqs {rt.max_num_seqs:,})"
            )
        )
    if rt is not None and rt.name == "transformers" and rt.load_bytes is not None:
        out.append(
            Text(f"after from_pretrained, torch.cuda.memory_allocated() shows {fmt_bytes(rt.load_bytes, units)}")
        )
    if rt is not None and rt.name == "llama.cpp" and rt.cpu_bytes is not None:
        out.append(
            Text(
                f"llama.cpp: {rt.n_gpu_layers} layer slots on the GPU (the output layer first); host memory "
                f"{fmt_bytes(rt.cpu_bytes, units)} (token embeddings, CPU layers and their KV, host buffers)"
            )
        )
    if doc.gpu is not None:
        g = doc.gpu
        out.append(_verdict(g, units, vllm=rt is not None and rt.name == "vllm"))
        if g.decode_tokens_per_s_bound is not None:
            out.append(Text(f"decode: at most {g.decode_tokens_per_s_bound:,.1f} tokens/s ({g.decode_assumptions})"))
    return out


def simple_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[str] = (), whole: Sequence[str] = ()
) -> Table:
    """A plain listing table (models, GPUs, formats); ``whole`` columns never wrap, the others fold."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", overflow="fold", no_wrap=c in whole)
    for r in rows:
        table.add_row(*r)
    return table


class _Console(Console):
    """A Console that lets a closed pipe surface as BrokenPipeError (Rich's default exits with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def print_out(*renderables: Table | Text) -> None:
    """Print to stdout, with no syntax highlighting (NO_COLOR and COLUMNS are honoured by Rich)."""
    console = _Console(highlight=False, soft_wrap=False)
    for r in renderables:
        console.print(r)


def inspect_table(doc: InspectDocument) -> list[Table | Text]:
    """The renderables of ``vram inspect``: a heading, each fact with its origin, what the files store."""
    m = doc.model
    head = Text()
    head.append(m.id, style="bold")
    where = f"{m.source} @ {m.revision[:12]}" if m.revision else m.source
    head.append(f"  ({where})\n", style="dim")
    head.append(f"{m.architecture} · {fmt_params(doc.parameters.total)} params")
    rows = [[label, str(f.value), f.from_] for label, f in doc.architecture.items()]
    out: list[Table | Text] = [head, simple_table(["field", "value", "from"], rows)]
    if doc.checkpoint is not None:
        c = doc.checkpoint
        kind = "a GGUF file" if c.source == "gguf" else "safetensors"
        stored = ", ".join(f"{k} {v:,}" for k, v in c.parameters_by_dtype.items())
        out.append(Text(f"stored in {kind}: {stored} elements, {c.total_bytes:,} bytes"))
    return out


_MODEL_COLUMNS = ("model", "params", "active", "dtype", "context", "type", "aliases")
_DROP_FIRST = ("aliases", "type", "context", "active", "dtype")  # least important first, when the terminal is narrow
_MIN_ALIASES = 12  # narrowest aliases column worth folding into


def models_table(doc: ModelsDocument, width: int | None = None) -> Table:
    """The model catalog; ids are never broken: narrow terminals lose the least important columns first."""
    console = Console(highlight=False, soft_wrap=False)
    width = console.width if width is None else width
    cells = {
        "model": [m.id for m in doc.models],
        "params": [fmt_params(m.parameters) for m in doc.models],
        "active": [fmt_params(m.active_parameters) if m.active_parameters != m.parameters else "" for m in doc.models],
        "dtype": [m.dtype for m in doc.models],
        "context": [f"{m.max_context:,}" if m.max_context else "-" for m in doc.models],
        "type": [m.model_type for m in doc.models],
        "aliases": [", ".join(m.aliases) for m in doc.models],
    }

    def build(names: Sequence[str]) -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for name in names:
            right = name in ("params", "active", "context")
            table.add_column(name, justify="right" if right else "left", no_wrap=name != "aliases", overflow="fold")
        for i in range(len(doc.models)):
            table.add_row(*(cells[n][i] for n in names))
        return table

    wide = console.options.update(max_width=10**6)  # measure the natural width, not the clamped one

    def fits(names: Sequence[str]) -> bool:
        fixed = [n for n in names if n != "aliases"]
        need = Measurement.get(console, wide, build(fixed)).maximum
        return need + (_MIN_ALIASES + 2 if "aliases" in names else 0) <= width

    names = list(_MODEL_COLUMNS)
    for drop in _DROP_FIRST:
        if fits(names):
            break
        names.remove(drop)
    return build(names)


def gpus_table(doc: GpusDocument, units: Units) -> Table:
    """The GPU catalog: memory (nominal, and what a process can allocate) and the formats each card runs natively."""
    rows = [
        [
            g.name,
            g.architecture,
            g.compute_capability or "-",
            fmt_bytes(g.memory_bytes, units),
            fmt_bytes(g.usable_memory_bytes, units),
            " ".join(f for f, ok in (("bf16", g.bf16), ("fp8", g.fp8), ("fp4", g.fp4)) if ok) or "-",
        ]
        for g in doc.gpus
    ]
    columns = ["gpu", "arch", "CC", "memory", "usable", "native"]
    return simple_table(columns, rows, right=["memory", "usable"], whole=["gpu", "memory", "usable"])


def dtypes_table(doc: DtypesDocument) -> list[Table | Text]:
    """The weight formats with nominal bits per weight, then the aliases."""
    rows = [[f.name, f"{f.nominal_bits:.3f}", f.description] for f in doc.formats]
    aliases = ", ".join(f"{k} = {v}" for k, v in sorted(doc.aliases.items()))
    return [
        simple_table(["dtype", "bits/weight", "what is stored"], rows, right=["bits/weight"]),
        Text(f"aliases: {aliases}"),
        Text(
            "where each figure comes from: vram dtypes --json (field 'source'); GPTQ/AWQ take any group size,\n"
            "e.g. gptq-int4-g64, awq-int4-g-1 (per channel)"
        ),
    ]


def _count(n: int | None, capped: bool, cap_note: str) -> str:
    if n is None:
        return "-"
    return f"{n:,}{cap_note if capped else ''}"


_FIT_COLUMNS = ("", "dtype", "total", "fits", "max context", "max batch")


def fit_tables(doc: FitDocument, units: Units) -> list[Table | Text]:
    """The renderables of ``vram fit``: a heading, the per-format table (or the catalog's) and the verdict lines."""
    g, st = doc.gpu, doc.settings
    cards = f"{g.count} x {g.name}" if g.count > 1 else g.name
    where = f"{cards} ({fmt_bytes(g.usable_memory_bytes, units)} usable{' each' if g.count > 1 else ''})"
    ctx = f"context {st.seq_len:,}" if st.seq_len else "default context"
    head = Text()
    if doc.model is None:
        head.append(f"What runs on {where}", style="bold")
        head.append(f"\n{st.runtime} · batch {st.batch} · {ctx}")
        rows = [
            [
                r.id.split("/", 1)[-1],  # the name part: a catalog lookup accepts it, and it fits 80 columns
                fmt_params(r.parameters),
                r.dtype or "none fits",
                _count(r.max_seq_len, False, ""),
                f"{r.decode_tokens_per_s_bound:,.0f}" if r.decode_tokens_per_s_bound else "-",
            ]
            for r in doc.catalog
        ]
        columns = ["model", "params", "best format", "context", "tok/s <="]
        table = simple_table(columns, rows, right=["params", "context", "tok/s <="], whole=columns[1:])
        return [head, table, *(Text(f"note: {n}", style="dim") for n in doc.notes)]

    m = doc.model
    head.append(m.id, style="bold")
    head.append(f"  ({m.source} @ {m.revision[:12]})" if m.revision else f"  ({m.source})", style="dim")
    head.append(f"\n{m.architecture} · {fmt_params(m.parameters)} params on {where}")
    if st.train:
        head.append(f"\ntraining · micro-batch {st.batch} · sequence {st.seq_len or 0:,}")
    else:
        head.append(f"\n{st.runtime} · batch {st.batch} · {ctx}")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    names = ("", "setup", "total", "fits", "max seq len", "max batch") if st.train else _FIT_COLUMNS
    for name in names:
        table.add_column(name, justify="left" if name in ("", "dtype", "setup", "fits") else "right", no_wrap=True)
    for r in doc.rows:
        mark = r.dtype == doc.recommended
        table.add_row(
            "*" if mark else "",
            r.dtype,
            fmt_bytes(r.total_bytes, units),
            ("yes" if r.fits else "no") + ("" if r.native else " (not native)"),
            _count(r.max_seq_len, r.max_seq_len_capped, " (model max)"),
            _count(r.max_batch, r.max_batch_capped, "+"),
            style="bold" if mark else None,
        )
    out: list[Table | Text] = [head, table]
    verdict = Text()
    if doc.recommended is not None:
        verdict.append("recommended: ", style="bold green")
    else:
        verdict.append("does not fit: ", style="bold red")
    verdict.append(doc.reason or "")
    out.append(verdict)
    if doc.suggestion:
        out.append(Text(f"would fit: {doc.suggestion}"))
    if doc.min_gpus is not None and (doc.min_gpus.count > g.count or doc.recommended is None):
        mg = doc.min_gpus
        out.append(
            Text(
                f"fewest {g.name}: {mg.count} in {mg.dtype} ({mg.layout}), {fmt_bytes(mg.per_gpu_bytes, units)} per GPU"
            )
        )
    elif doc.min_gpus is None and doc.recommended is None and st.runtime != "llama.cpp":
        how = "ZeRO-3, FSDP or TP x PP" if st.train else "a layer split"
        out.append(Text(f"no count of {g.name} up to the search limit holds it with {how}"))
    if doc.offload is not None:
        o = doc.offload
        out.append(
            Text(
                f"offload ({o.dtype}): {o.gpu_layers} layers on the GPU ({fmt_bytes(o.gpu_bytes, units)}), "
                f"{o.cpu_layers} in CPU memory ({fmt_bytes(o.cpu_bytes, units)}): {o.flag}"
            )
        )
    if doc.decode_tokens_per_s_bound is not None:
        out.append(Text(f"decode: at most {doc.decode_tokens_per_s_bound:,.1f} tokens/s ({doc.decode_assumptions})"))
    out += [Text(f"note: {n}", style="dim") for n in doc.notes]
    return out


def _layout(s: TrainingSettingsDoc) -> str:
    """Where the states live: GPUs, the data/tensor/pipeline split, the sharding and any CPU offload."""
    if s.gpus == 1:
        return "1 GPU"
    split = [f"data parallel {s.data_parallel}"]
    split += [f"{name} {n}" for name, n in (("tensor parallel", s.tp), ("pipeline parallel", s.pp)) if n > 1]
    if s.zero:
        shard = f"ZeRO-{s.zero}"
    elif s.fsdp != "none":
        shard = f"FSDP {s.fsdp}"
    else:
        shard = "DDP" if s.data_parallel > 1 else "no sharding"
    return f"{s.gpus} GPUs, figures per GPU: {' x '.join(split)}, {shard}"


def training_table(doc: TrainingDocument, units: Units) -> list[Table | Text]:
    """The renderables of ``vram train``: heading, run and layout lines, the six components, CPU RAM, verdict."""
    from vram.core.training.settings import LORA_TARGETS  # here: `vram estimate` tables need none of it

    m, s = doc.model, doc.settings
    head = _heading(m)
    facts = [m.architecture or "rule of thumb", f"{fmt_params(m.parameters)} params"]
    if m.active_parameters != m.parameters:
        facts.append(f"{fmt_params(m.active_parameters)} active")
    facts.append(s.precision or "")
    if s.lora_rank is not None:
        kind = "QLoRA" if s.qlora else "LoRA"
        targets = s.lora_targets or []
        named = "all-linear" if len(targets) == len(LORA_TARGETS) else ",".join(targets)
        facts.append(f"{kind} r={s.lora_rank} on {named}")
    share = doc.trainable_parameters / m.parameters if m.parameters else 0.0
    facts.append(f"trainable {fmt_params(doc.trainable_parameters)} of {fmt_params(m.parameters)} ({share:.2%})")
    head.append(" · ".join(f for f in facts if f))
    run = [f"optimizer {s.optimizer}" + (" (in backward)" if s.optimizer_in_backward else "")]
    if doc.scope == "full":
        run += [f"micro-batch {s.batch} x {s.seq_len or 0:,} tokens", f"checkpointing {s.grad_checkpointing}"]
    accum = f" x grad-accum {s.grad_accum}" if s.grad_accum > 1 else ""
    data = f" x {s.data_parallel} data-parallel" if s.data_parallel > 1 else ""
    run.append(f"effective batch {s.effective_batch:,}" + (f" ({s.batch}{accum}{data})" if accum or data else ""))
    head.append("\n" + " · ".join(run))
    head.append(f"\n{_layout(s)} · peak in {doc.peak_phase.replace('_', ' ')}")
    if doc.scope == "states_only":
        head.append("\nmodel states only: a parameter count has no architecture for activations")
    elif not m.exact:
        see = " (see warnings)" if doc.warnings else ""
        head.append(f"\napproximate: this architecture is not mapped exactly{see}", style="yellow")
    if doc.project_defaults is not None:
        d = doc.project_defaults
        head.append(f"\ndefaults from {d.file}: {', '.join(d.keys) or 'none used'}", style="dim")

    out: list[Table | Text] = [head, _components(doc.components, doc.total_bytes, units)]
    if doc.cpu_bytes:
        out.append(Text(f"CPU RAM for offloaded states: {fmt_bytes(doc.cpu_bytes, units)} per GPU (not in the total)"))
    if doc.gpu is not None:
        verdict = _verdict(doc.gpu, units)
        if s.gpus > 1:
            verdict.append(f" (each of {s.gpus} GPUs)")
        out.append(verdict)
    return out
