"""Speed-ups: moto 5.2.5 redoes some work on every request whose result cannot change while the
server runs. Each function below installs one cache in front of such a piece of moto, and says
why the cached answer is the one moto would compute. They change no answer, counter or state
(unlike the fidelity patches of shim/patches/, which make moto behave like AWS, so they are not
in that registry, nor in GET /_shim/patches or the README's table); they only make each call
cheaper in CPU, which is what the emulator (one Python process, one GIL) spends a benchmark's
wall time on. server.py installs them with apply_all(), after registry.apply_all().

Figures (a no-op `ballast deploy` of a ten-service stack, about 200 calls): see
tests/emulator/README.md, "Speed-ups".

Like the patches, each function imports moto inside, so importing this module starts nothing.
"""

from __future__ import annotations

import threading
from typing import Callable

# Host -> backend entries kept by cached_backend_for_host (a bound against a client that invents
# a new region for each call: past it, lookups are simply not cached).
HOST_CACHE_MAX = 4096

_INSTALLED: list[Callable[[], None]] = []
_applied = False


def speedup(fn: Callable[[], None]) -> Callable[[], None]:
    _INSTALLED.append(fn)
    return fn


@speedup
def cached_moto_modules() -> None:
    """moto's `backends.list_of_moto_modules()` lists moto's package directory and stats every
    entry (about 175 `os.stat` calls) each time it is called, and
    `DomainDispatcherApplication.get_backend_for_host` calls it on every AWS request (to see
    whether the host is a bare module name; it never is for a signed call, so the whole listing
    is walked). The directory is moto's installed package: it does not change while the server
    runs. The listing is made once, at the first call, and the same names are yielded, in the
    same (sorted) order, from then on."""
    import moto.backends as backends

    orig = backends.list_of_moto_modules
    modules: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def list_of_moto_modules():
        if not modules:
            with lock:
                if not modules:
                    modules.append(tuple(orig()))
        return iter(modules[0])

    list_of_moto_modules.__doc__ = orig.__doc__
    backends.list_of_moto_modules = list_of_moto_modules


@speedup
def cached_backend_for_host() -> None:
    """`DomainDispatcherApplication.get_backend_for_host(host)` runs on every AWS request: the
    host (`ec2.us-east-1.amazonaws.com`, made from the SigV4 scope) is compared with moto's
    module names, then matched against moto's ~100 backend URL patterns in turn. The answer
    depends only on the host: the module names (see cached_moto_modules) and the patterns
    (`backend_index.backend_url_patterns`, fixed at import) do not change. So each host's
    backend, once found, is remembered. A host no backend matches is not remembered: moto then
    prints its "Unable to find appropriate backend" line each time, as before."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication as App

    orig = App.get_backend_for_host
    found: dict[str, object] = {}

    def get_backend_for_host(self, host):
        if host is None:
            return None
        backend = found.get(host)
        if backend is None:
            backend = orig(self, host)
            if backend and len(found) < HOST_CACHE_MAX:
                found[host] = backend
        return backend

    get_backend_for_host.__doc__ = orig.__doc__
    App.get_backend_for_host = get_backend_for_host


@speedup
def cached_method_names() -> None:
    """`BaseResponse.call_action` asks `method_names_from_class(self.__class__)` on every request
    whether the action's snake_case name is a method of the response class: that is
    `inspect.getmembers(cls, inspect.isfunction)`, a `getattr` of each of the class's few
    hundred attributes. A response class's functions are fixed once moto is imported and the
    fidelity patches are installed (registry.apply_all(), before the server serves; no patch
    adds a method later), so each class's list is made once, at its first request, and handed
    out again (call_action only tests membership in it)."""
    import moto.core.responses as responses

    orig = responses.method_names_from_class
    names: dict[type, list[str]] = {}

    def method_names_from_class(clazz):
        cached = names.get(clazz)
        if cached is None:
            cached = names[clazz] = orig(clazz)
        return cached

    method_names_from_class.__doc__ = orig.__doc__
    responses.method_names_from_class = method_names_from_class


@speedup
def shared_error_lookups() -> None:
    """Every error answer goes through `moto.core.errors.get_error_model`, which asks
    `ErrorLookupFactory().for_service(model)` for the service's code -> error shape table. The
    factory caches the table per service id, but get_error_model makes a new factory each time,
    so the cache is always empty and the table is rebuilt from all the service's error shapes
    on every error answer (a no-op deploy answers about 25 NotFound-style errors). The table is
    built from the service model, which moto loads once and never changes (`get_service_model`
    is cached), so one cache is shared by every factory: each service's table is built once.
    Shapes are reused across requests exactly as moto already reuses the output shapes of its
    cached service models. (A model without a service id is not cached, as before.)"""
    from moto.core.errors import ErrorLookupFactory as Factory

    orig_init = Factory.__init__
    shared: dict = {}

    def __init__(self) -> None:
        orig_init(self)
        self._error_lut_cache = shared

    Factory.__init__ = __init__


@speedup
def cached_filter_patterns() -> None:
    """EC2 tag filters (`tag:Name`, `tag-key`, DescribeTags `key`/`value`/`resource-id`) turn
    each filter value into a regular expression with `simple_aws_filter_to_re`
    (`fnmatch.translate`) once per resource tested: ballast's describe-by-tag calls and moto's
    own per-resource tag lookups do it hundreds of times per deploy. The translation is a pure
    function of the string, so it is memoized (bounded; `re.compile` was already cached by
    `re`). Both names moto calls it by are replaced."""
    import functools

    import moto.ec2.models.tags as tags
    import moto.ec2.utils as utils

    orig = utils.simple_aws_filter_to_re
    memo = functools.lru_cache(maxsize=4096)(orig)

    def simple_aws_filter_to_re(filter_string):
        # Only strings are memoized (anything else fails or succeeds in moto's own code, as before).
        return memo(filter_string) if type(filter_string) is str else orig(filter_string)

    simple_aws_filter_to_re.__doc__ = orig.__doc__
    utils.simple_aws_filter_to_re = simple_aws_filter_to_re
    tags.simple_aws_filter_to_re = simple_aws_filter_to_re


def apply_all() -> None:
    """Installs every speed-up once (server.py, after the fidelity patches)."""
    global _applied
    if _applied:
        return
    for fn in _INSTALLED:
        fn()
    _applied = True
