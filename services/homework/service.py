"""The homework service's use cases: each takes a unit of work and the deps it needs, loads, calls the
rules of `domain.py`, emits events and commits (see `services/lesson/service.py`)."""
