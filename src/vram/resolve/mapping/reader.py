"""Reading config.json values: typed, validated, with the transformers default behind each key.

Every value handed out is recorded with its origin, so ``vram inspect`` can show where each
number of the spec came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Any, Literal

from vram.core.errors import MissingFieldError, SpecError

_MISSING = object()

Origin = Literal["config.json", "transformers default", "implied"]


@dataclass(frozen=True)
class Read:
    """One config value the mapping used, and where it came from.

    ``asked`` is the request that produced it: the keys the mapping looked for, preferred first.
    Its first key names the quantity (``moe_intermediate_size`` even when a Mixtral config answers
    with ``intermediate_size``), so ``vram inspect`` can tell which read fed which spec value.
    """

    key: str
    value: Any
    origin: Origin
    asked: tuple[str, ...] = ()


class Cfg:
    """A config dict with the family's defaults behind it; reports missing keys by name.

    Every value it hands out is recorded in ``trace`` with its origin: the file itself, the
    transformers class default for an absent key, or a rule of the mapping (``implied``, e.g.
    head_dim = hidden_size // num_attention_heads).
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        model_type: str,
        defaults: Mapping[str, Any],
        trace: list[Read] | None = None,
        prefix: str = "",
    ) -> None:
        self.data = data
        self.model_type = model_type
        self.defaults = defaults
        self.trace: list[Read] = [] if trace is None else trace
        self.prefix = prefix

    def nested(self, key: str, model_type: str, defaults: Mapping[str, Any]) -> Cfg:
        """The sub-config under ``key`` (e.g. text_config), recording into the same trace as ``key.<field>``.

        An absent or null sub-config is empty (its class defaults apply, as in transformers);
        anything but a JSON object is a SpecError.
        """
        data = self.get(key, default={})
        if not isinstance(data, Mapping):
            msg = f"config.json field {key!r} must be a JSON object"
            raise SpecError(msg, model_type=self.model_type, field=key)
        return Cfg(data, model_type, defaults, self.trace, f"{self.prefix}{key}.")

    def _record(self, key: str, value: Any, origin: Origin, asked: tuple[str, ...]) -> Any:
        self.trace.append(Read(self.prefix + key, value, origin, asked))
        return value

    def get(self, *keys: str, default: Any = _MISSING) -> Any:
        """First of ``keys`` present in the config, else the family default, else ``default``.

        An explicit ``null`` counts as present: it means "unset" (as transformers reads it), so
        ``default`` applies, not the family default.
        """
        for k in keys:
            if k in self.data:
                if self.data[k] is not None:
                    return self._record(k, self.data[k], "config.json", keys)
                break
        else:
            for k in keys:
                if self.defaults.get(k) is not None:
                    return self._record(k, self.defaults[k], "transformers default", keys)
        if default is _MISSING:
            raise MissingFieldError(self.prefix + keys[0], model_type=self.model_type)
        return self._record(keys[0], default, "implied", keys)

    def integer(self, *keys: str, default: Any = _MISSING) -> int:
        """An integer field; a float like 4096.0 is accepted, anything else is a SpecError."""
        value = self.get(*keys, default=default)
        return self._as_int(keys[0], value)

    def opt_int(self, *keys: str) -> int | None:
        """An integer field that may be absent or null."""
        value = self.get(*keys, default=None)
        return None if value is None else self._as_int(keys[0], value)

    def _as_int(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value) or int(value) != value:
            msg = f"config.json field {self.prefix + key!r} must be an integer, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=self.prefix + key)
        if value < 0:
            msg = f"config.json field {self.prefix + key!r} must not be negative, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=self.prefix + key)
        return int(value)

    def positive(self, *keys: str, default: Any = _MISSING) -> int:
        """An integer field that must be at least 1: a size, a count, or a divisor (a layer period)."""
        value = self.integer(*keys, default=default)
        if value < 1:
            msg = f"config.json field {self.prefix + keys[0]!r} must be at least 1, got {value}"
            raise SpecError(msg, model_type=self.model_type, field=self.prefix + keys[0])
        return value

    def int_list(self, key: str) -> list[int]:
        """A list of integers (layer indices); absent or null is an empty list."""
        value = self.get(key, default=None) or []
        if not isinstance(value, list):
            msg = f"config.json field {self.prefix + key!r} must be a list of integers, got {value!r}"
            raise SpecError(msg, model_type=self.model_type, field=self.prefix + key)
        return [self._as_int(key, v) for v in value]

    def flag(self, *keys: str, default: bool = False) -> bool:
        """A boolean field."""
        return bool(self.get(*keys, default=default))
