"""Schemathesis hooks of the conformance run (loaded through `hooks` in schemathesis.toml)."""
from __future__ import annotations

import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.hook
def map_case(context, case):
    """A `cursor` is opaque: a valid one is only ever a `next_cursor` the same list gave, which no
    schema can generate. Positive cases leave it out; negative ones still send what they like."""
    meta = case.meta
    if meta is not None and meta.generation.mode == GenerationMode.POSITIVE and case.query:
        case.query.pop("cursor", None)
    return case
