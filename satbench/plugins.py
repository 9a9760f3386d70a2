"""Loading users' plugins: modules that register splitters and methods.

A package registers through the entry-point group `satbench.plugins`, each entry point naming a
module (see examples/satbench-example-plugin):

    [project.entry-points."satbench.plugins"]
    example = "satbench_example_plugin"

`satbench` imports every such module, and every module given with `--plugin module.path`, before
it parses its arguments, so their splitters and methods are choices of every command. Each object
registered while a plugin is imported is attributed to it (`satbench plugins` lists them).
"""

import importlib
from importlib.metadata import entry_points

from satbench.errors import SatbenchError
from satbench.registry import registering_from

GROUP = "satbench.plugins"
_loaded: set[str] = set()


def _import(module: str, origin: str) -> None:
    if module in _loaded:
        return
    # The registries import torch; load them first so that their built-ins are not attributed
    # to the plugin that happened to import them.
    import satbench.methods  # noqa: F401

    with registering_from(origin):
        try:
            importlib.import_module(module)
        except SatbenchError as error:  # e.g. a registration the registry refuses
            raise SatbenchError(f"plugin {module!r} ({origin}): {error}") from None
        except Exception as error:  # whatever a user's module raises, named in one line
            raise SatbenchError(f"plugin {module!r} ({origin}): cannot be imported: "
                                f"{type(error).__name__}: {error}") from None
    _loaded.add(module)


def load_entry_points() -> None:
    """Import the module of every installed `satbench.plugins` entry point."""
    for point in entry_points(group=GROUP):
        package = point.dist.name if point.dist is not None else "unknown package"
        _import(point.value.split(":")[0], f"plugin {point.name} (package {package})")


def load_module(module: str) -> None:
    """Import a plugin module named on the command line (--plugin)."""
    _import(module, f"plugin module {module} (--plugin)")
