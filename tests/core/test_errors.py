"""Errors carry the facts a user needs in their message and fields (what was asked, where, the next step).

Expected texts are the inputs themselves (a field name, a repo id, a count) and hand arithmetic.
"""

from __future__ import annotations

from vram.core import errors as e


def test_missing_field_names_the_field_and_model_type() -> None:
    """A missing field is quoted, with the model_type when known, and both stay on the error."""
    err = e.MissingFieldError("hidden_size", model_type="llama")
    assert "config.json has no 'hidden_size' for model_type 'llama'" == str(err)
    assert ("hidden_size", "llama", str(err)) == (err.field, err.model_type, err.reason)
    assert "config.json has no 'vocab_size'" == str(e.MissingFieldError("vocab_size"))


def test_spec_error_keeps_reason_and_context() -> None:
    """A SpecError is a ValueError whose message is the reason, with model_type and field kept."""
    err = e.UnsupportedArchitectureError("no layers", model_type="x", field="n_layer")
    assert isinstance(err, ValueError)
    assert ("no layers", "no layers", "x", "n_layer") == (str(err), err.reason, err.model_type, err.field)


def test_settings_errors_name_what_was_asked() -> None:
    """Unknown formats, GPUs and empty arguments quote the input and keep the alternatives."""
    fmt = e.UnknownFormatError("int3", ["int4", "int8"])
    assert ("unknown dtype or quantization format 'int3'", "int3", ["int4", "int8"]) == (str(fmt), fmt.name, fmt.known)
    gpu = e.UnknownGpuError("H300", ("H100", "H200"))
    assert ("unknown GPU 'H300'", "H300", ("H100", "H200")) == (str(gpu), gpu.name, gpu.suggestions)
    empty = e.EmptyArgumentError("MODEL")
    assert ("the MODEL argument is empty", "MODEL") == (str(empty), empty.what)


def test_multi_gpu_error_says_why_there_is_no_verdict() -> None:
    """Asking for 2 x H100 for a one-GPU layout states both counts and why a summed capacity is no verdict."""
    err = e.MultiGpuError("2xH100", 2, "H100")
    assert str(err).startswith("--gpu '2xH100' asks for 2 GPUs but the estimate describes 1: comparing")
    assert "a CUDA context and every unsplit tensor on each card" in str(err)
    assert ("2xH100", 2, "H100") == (err.text, err.count, err.name)


def test_weights_only_fit_error_gives_both_sizes_in_gib() -> None:
    """7e9 fp16 parameters (14e9 B = 13.04 GiB) against 79.25 GiB usable: both figures, the card, the reason."""
    err = e.WeightsOnlyFitError("7B", 14 * 10**9, "H100", 85_093_105_664)
    assert str(err).startswith("'7B' is a bare parameter count: its weights alone take 13.04 GiB against 79.25 GiB")
    assert "usable on H100, but without an architecture" in str(err)
    assert ("7B", 14 * 10**9, "H100", 85_093_105_664) == (err.ref, err.weights_bytes, err.gpu_name, err.usable_bytes)


def test_model_not_found_says_where_it_looked() -> None:
    """A Hub miss mentions privacy; a local miss lists the kinds of reference accepted."""
    hub = e.ModelNotFoundError("org/x", on_hub=True, suggestions=("org/y",))
    assert "'org/x' was not found on the Hugging Face Hub (or it is private and the token cannot see it)" == str(hub)
    assert (True, ("org/y",), "org/x") == (hub.on_hub, hub.suggestions, hub.ref)
    local = e.ModelNotFoundError("foo")
    assert "'foo' is not a config path, a catalog model, a parameter count or a Hub repo id" == str(local)
    assert (False, ()) == (local.on_hub, local.suggestions)


def test_resolve_errors_name_the_repo_and_reason() -> None:
    """Config, gated, revision and Hub errors start with the path or repo and keep their fields."""
    cfg = e.ConfigFileError("a/config.json", "not JSON", shadows="org/a")
    assert ("a/config.json: not JSON", "a/config.json", "not JSON", "org/a") == (
        str(cfg),
        cfg.path,
        cfg.reason,
        cfg.shadows,
    )
    gated = e.GatedModelError("meta/x")
    assert ("meta/x is gated or private: the Hub refused access", False) == (str(gated), gated.in_catalog)
    assert ("meta/x", "the Hub refused access") == (gated.repo_id, gated.reason)
    rev = e.RevisionNotFoundError("org/x", "v9")
    assert ("org/x has no revision 'v9'", "org/x", "v9") == (str(rev), rev.repo_id, rev.revision)
    hub = e.HubUnavailableError("org/x", "timed out", offline=True, suggestions=("s",))
    assert "cannot get org/x from the Hugging Face Hub: timed out" == str(hub)
    assert ("org/x", "timed out", True, ("s",)) == (hub.repo_id, hub.reason, hub.offline, hub.suggestions)
    assert (False, ()) == (e.HubUnavailableError("r", "x").offline, e.HubUnavailableError("r", "x").suggestions)
