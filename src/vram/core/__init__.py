"""The pure estimation core: pydantic models and arithmetic, no I/O, no CLI, no network."""
