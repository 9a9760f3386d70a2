"""The method registry: every method satbench trains, built in or from a plugin.

A new method is one module (a Method subclass with a params spec; see satbench.methods.base and
examples/satbench-example-plugin) plus one line: `METHODS.register(MyMethod)`. Training (single
and batched), the CLI's choices and flags, the result rows and the reports all read this registry.
"""

from dataclasses import fields

from satbench.errors import SatbenchError
from satbench.methods.base import BUDGETS, Built, Method, NoParams, Setup, alpha_field
from satbench.methods.bimt import Bimt
from satbench.methods.dense import Dense
from satbench.methods.dense_reset import DenseReset
from satbench.methods.dropconnect import DropConnect
from satbench.methods.fixed_classifier import FixedClassifier
from satbench.methods.fpe import FPE, ExpansionParams, OverlappingFPE
from satbench.methods.sparse_scratch import SparseScratch
from satbench.methods.tree_cc import TreeCC, TreeDense
from satbench.methods.wide_dense import WideDense
from satbench.registry import Registry
from satbench.specs import BASELINE, TaskSpec, TrainingContext, flag_of, spec_fields

METHODS = Registry("method", field="methods")
DEFAULT_METHODS = ("dense", "fpe", "wide_dense", "sparse_scratch")


def get_method(name: str) -> Method:
    return METHODS.get(name)


def check_params_fields(method: Method) -> None:
    """A params field may not reuse a task or context field's name (they share flags, columns
    and sweep axes), and one shared with another method must have the same type and flag."""
    reserved = {f.name for spec in (TaskSpec, TrainingContext) for f in fields(spec)}
    for field in spec_fields(method.params):
        if field.name in reserved:
            raise SatbenchError(f"method {method.name!r}: params field {field.name!r} is a "
                                f"task or training field; rename it")
        for other in map(METHODS.get, METHODS.names()):
            same = next((f for f in spec_fields(other.params) if f.name == field.name), None)
            if other.name != method.name and same is not None and (
                    same.type != field.type or flag_of(same) != flag_of(field)):
                raise SatbenchError(f"method {method.name!r}: params field {field.name!r} "
                                    f"differs in type or flag from {other.name}'s")


def register_method(method, *, replace: bool = False):
    """Register a Method subclass (or instance); checks what the trainers rely on."""
    instance = method() if isinstance(method, type) else method
    if not isinstance(instance, Method):
        raise SatbenchError(f"method {getattr(instance, 'name', instance)!r}: expected a "
                            f"satbench.methods.Method subclass")
    if instance.starts_from not in (None, BASELINE):
        raise SatbenchError(f"method {instance.name!r}: starts_from must be None or "
                            f"{BASELINE!r}, got {instance.starts_from!r}")
    if instance.budget not in BUDGETS:
        raise SatbenchError(f"method {instance.name!r}: budget must be one of "
                            f"{', '.join(BUDGETS)}, got {instance.budget!r}")
    check_params_fields(instance)
    if type(instance).train is not Method.train and instance.batchable:
        raise SatbenchError(f"method {instance.name!r}: overrides train(), so it must set "
                            f"batchable = False")
    METHODS.register(instance, replace=replace)
    return method


for _method in (Dense, FPE, WideDense, SparseScratch, DenseReset, OverlappingFPE, DropConnect,
                Bimt, FixedClassifier, TreeCC, TreeDense):
    register_method(_method)


__all__ = ["BASELINE", "BUDGETS", "DEFAULT_METHODS", "METHODS", "Built", "ExpansionParams",
           "Method", "NoParams", "Setup", "alpha_field", "get_method", "register_method"]
