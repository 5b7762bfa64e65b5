"""The registry of the platform's processes."""
from __future__ import annotations

import importlib
from types import ModuleType

from shared.settings import SERVICE_NAMES


def service_module(name: str) -> ModuleType:
    """`services.<name>.app`, which has `SPEC` and `create_app(settings=None, runtime=None)`."""
    if name not in SERVICE_NAMES:
        raise SystemExit(f"unknown service {name!r}; one of: {', '.join(SERVICE_NAMES)}")
    return importlib.import_module(f"services.{name}.app")
