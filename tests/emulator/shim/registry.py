"""The fidelity patches: where moto 5.2.5 differs from real AWS in ways ballast relies on.

Each patch is registered once, next to its code in `shim/patches/<service>.py`, by decorating
the function that installs it:

    @patch("X1", "xyz",
           moto="what moto 5.2.5 does (one line of Markdown)",
           emulator="what the shim makes it do, as real AWS does")
    def some_fix() -> None:
        ...  # wraps a moto method; imports moto inside, so importing the module starts nothing

One function may install several patches (one decorator per id) when they share a wrapper.
`moto` and `emulator` are the two text columns of the table in tests/emulator/README.md
("Fidelity patches"), which `shim/catalog.py` writes from this registry; the emulator answers
it on GET /_shim/patches. `apply_all()` installs every patch (server.py, at startup).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

ID_RE = re.compile(r"^[A-Z][0-9]+$")


@dataclasses.dataclass(frozen=True)
class Patch:
    id: str  # "E1": a letter per service, a number
    service: str  # the module it is in: shim/patches/<service>.py
    moto_does: str  # what moto 5.2.5 does (the README table's second column)
    emulator_does: str  # what the shim makes it do, as real AWS does (the third column)
    apply: Callable[[], None]  # installs it (shared by the ids one function implements)

    def as_json(self) -> dict:
        return {"id": self.id, "service": self.service, "moto": self.moto_does,
                "emulator": self.emulator_does}


# In registration order: the patch modules in shim/patches/__init__.py's order, each module's
# functions in source order (the order apply_all installs them in).
_REGISTERED: list[Patch] = []
_applied = False


def patch(id: str, service: str, *, moto: str, emulator: str):
    """Registers the decorated function as the code of patch `id` of `service`."""
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        if not ID_RE.match(id):
            raise ValueError(f"patch id {id!r}: a capital letter and a number, like E1")
        if any(p.id == id for p in _REGISTERED):
            raise ValueError(f"patch {id} is registered twice")
        module = fn.__module__.rsplit(".", 1)[-1]
        if module != service:
            raise ValueError(f"patch {id} of {service!r} is in module {fn.__module__!r}: "
                             f"each service's patches are in shim/patches/{service}.py")
        if not moto.strip() or not emulator.strip() or "\n" in moto + emulator:
            raise ValueError(f"patch {id}: moto and emulator are one non-empty line each")
        _REGISTERED.append(Patch(id, service, moto, emulator, fn))
        return fn
    return register


def load() -> list[Patch]:
    """Every patch, in the README table's order: by service (in the order the modules are
    imported), then by id. Imports the patch modules, which needs neither moto nor a server."""
    from . import patches  # noqa: F401  (registers every patch)

    rank: dict[str, int] = {}
    for p in _REGISTERED:
        rank.setdefault(p.service, len(rank))
    return sorted(_REGISTERED, key=lambda p: (rank[p.service], p.id[0], int(p.id[1:])))


def as_json() -> list[dict]:
    """GET /_shim/patches: [{"id", "service", "moto", "emulator"}] in table order."""
    return [p.as_json() for p in load()]


def apply_all() -> None:
    """Installs every patch once (a function that implements several ids runs once), in
    registration order."""
    global _applied
    load()
    if _applied:
        return
    done: list[Callable[[], None]] = []
    for p in _REGISTERED:
        if p.apply not in done:
            p.apply()
            done.append(p.apply)
    _applied = True
