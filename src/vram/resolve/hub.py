"""Model configs and stored-weight metadata from the Hugging Face Hub.

The only module that imports huggingface_hub: it honours HF_ENDPOINT, HF_HOME (the standard
cache), HF_TOKEN / the saved login and HF_HUB_OFFLINE, and turns every huggingface_hub exception
into one of ours (GatedRepoError is checked before RepositoryNotFoundError: it is a subclass).
Nothing from a repo is executed: only config.json is downloaded, and read with the same size
bound as a local file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from vram.core.checkpoint import Checkpoint
from vram.core.errors import (
    ConfigFileError,
    GatedModelError,
    HubUnavailableError,
    ModelNotFoundError,
    RevisionNotFoundError,
    VramError,
)
from vram.resolve.local import read_config
from vram.resolve.safetensors import DTYPE_BITS

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the Hub before falling back to the cache (huggingface_hub's etag timeout)."""


@dataclass(frozen=True)
class HubConfig:
    """A config.json obtained through huggingface_hub."""

    config: dict[str, Any]
    source: Literal["hub", "cache"]
    revision: str | None
    path: Path
    checkpoint: Checkpoint | None
    note: str | None = None


def _checkpoint(safetensors: Any) -> Checkpoint | None:
    """The Hub's per-dtype parameter counts (computed from the safetensors headers) as a Checkpoint."""
    params = safetensors.get("parameters") if isinstance(safetensors, dict) else None
    if not params or any(d not in DTYPE_BITS for d in params):
        return None
    stored = {d: n * DTYPE_BITS[d] // 8 for d, n in params.items()}
    return Checkpoint(source="safetensors", parameters_by_dtype=dict(params), bytes_by_dtype=stored)


def _reason(exc: BaseException) -> str:
    """Why the Hub could not be used, in words."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OfflineModeIsEnabled):
            return "offline mode is on (HF_HUB_OFFLINE or --offline) and the config is not in the cache"
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            status = cause.response.status_code
            if status == 429:
                return "rate limited by the Hub (HTTP 429); retry later or log in (hf auth login)"
            return f"the Hub answered HTTP {status}"
        name = type(cause).__name__
        if "Timeout" in name:
            return "the Hub did not answer in time"
        if "Connect" in name:
            return "the Hub is unreachable (connection failed)"
        cause = cause.__cause__ or cause.__context__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _convert(exc: Exception, repo_id: str, revision: str | None, why: str | None, offline: bool = False) -> VramError:
    """Our error for a huggingface_hub exception (order matters: GatedRepoError is a RepositoryNotFoundError)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )
    from huggingface_hub.errors import RevisionNotFoundError as HfRevisionNotFoundError

    if isinstance(exc, GatedRepoError):
        return GatedModelError(repo_id)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403) and not isinstance(exc, RepositoryNotFoundError):
        return GatedModelError(repo_id, reason=f"the Hub refused the token (HTTP {status})")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelNotFoundError(repo_id, on_hub=True)
    if isinstance(exc, HfRevisionNotFoundError):
        return RevisionNotFoundError(repo_id, revision or "main")
    if isinstance(exc, RemoteEntryNotFoundError):
        return ConfigFileError(f"{repo_id}/config.json", "the repo has no config.json")
    if why is not None:
        return HubUnavailableError(repo_id, f"{why}, and config.json is not in the cache", offline=offline)
    return HubUnavailableError(repo_id, _reason(exc))


def _model_info(repo_id: str, *, revision: str | None, token: str | None, timeout: float) -> dict[str, Any]:
    """The Hub's model info JSON (``GET /api/models/{repo_id}[/revision/{revision}]``, as ``HfApi.model_info``).

    Sent through huggingface_hub's own session, headers and error mapping, without importing
    ``huggingface_hub.hf_api``: that module (the whole Hub API client) is most of a cold Hub
    estimate's start-up time, and only the ``safetensors`` field of the answer is used.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import (  # type: ignore[attr-defined]  # exported lazily, no static __all__
        build_hf_headers,
        get_session,
        hf_raise_for_status,
    )

    url = f"{constants.ENDPOINT}/api/models/{repo_id}"
    if revision is not None:
        url += f"/revision/{quote(revision, safe='')}"
    response = get_session().get(url, headers=build_hf_headers(token=token), timeout=timeout)
    hf_raise_for_status(response)
    info = response.json()
    return info if isinstance(info, dict) else {}


def fetch(
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    offline: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> HubConfig:
    """config.json of ``repo_id`` from the Hub, or from the cache when the Hub cannot be reached.

    Online, the model info call checks access and brings the Hub's per-dtype parameter counts
    of the safetensors files; then config.json is downloaded into the standard cache, whose
    snapshot folder names the commit. When the Hub cannot be reached (network, timeout, 429, 5xx,
    offline mode), the cached config.json for that revision is used and the note says why.
    """
    from huggingface_hub import constants
    from huggingface_hub.file_download import hf_hub_download

    info = None
    why: str | None = None  # why the Hub was not used, when it was not
    offline = offline or constants.HF_HUB_OFFLINE
    if offline:
        why = "offline mode is on (--offline or HF_HUB_OFFLINE=1)"
    else:
        try:
            info = _model_info(repo_id, revision=revision, token=token, timeout=timeout)
        except Exception as e:  # converted here: network errors share no base class
            error = _convert(e, repo_id, revision, None)
            if not isinstance(error, HubUnavailableError):
                raise error from e
            why = error.reason
    try:
        path = Path(
            hf_hub_download(
                repo_id,
                "config.json",
                revision=revision,  # the ref, not a sha: the cache then maps it for offline use
                token=token,
                local_files_only=info is None,
                etag_timeout=timeout,
            )
        )
    except Exception as e:  # every huggingface_hub failure becomes one of ours
        raise _convert(e, repo_id, revision, why, offline) from e
    return HubConfig(
        config=read_config(path),
        source="hub" if info is not None else "cache",
        revision=path.parent.name,  # the snapshot folder is the commit the file came from
        path=path,
        checkpoint=_checkpoint(info.get("safetensors")) if info is not None else None,
        note=None if why is None else f"{why}: using the cached config.json",
    )
