"""wide_dense: alpha*h dense neurons trained T1 + T2 steps from scratch: the ceiling.

It has alpha times the dense model's weights, so it is a reference, not a method at a matched
budget.
"""

from dataclasses import dataclass

from satbench.methods.base import Built, Method, Setup, alpha_field, check_alpha


@dataclass(frozen=True)
class WideParams:
    alpha: int = alpha_field()


class WideDense(Method):
    name = "wide_dense"
    version = "1"
    summary = "alpha*h dense neurons from scratch: the ceiling (alpha times the weights)"
    params = WideParams
    budget = "none"

    def check(self, params, context) -> None:
        check_alpha(params.alpha, self.name)

    def hidden_width(self, params, context) -> int:
        return params.alpha * context.neurons

    def build(self, params, setup: Setup) -> Built:
        return Built(setup.fresh_model(self.hidden_width(params, setup.context), "init-wide"))
