"""Estimate and Component: integer bytes per component, their total and a fit check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field


class Component(BaseModel):
    """One line of an estimate: what it is, how many bytes, and the assumption behind it."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    bytes: int = Field(ge=0)
    note: str
    details: dict[str, int | float | str] = Field(default_factory=dict)


class Estimate(BaseModel):
    """A memory estimate: the components and what they add up to."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    components: tuple[Component, ...]
    warnings: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_bytes(self) -> int:
        """Sum of all components."""
        return sum(c.bytes for c in self.components)

    def component(self, name: str) -> Component:
        """The component called ``name`` (KeyError when absent)."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def fits(self, budget_bytes: int) -> bool:
        """True when the total is within ``budget_bytes``."""
        return self.total_bytes <= budget_bytes
