"""Estimates -> the versioned JSON document and the Rich table (the only place that imports rich)."""
