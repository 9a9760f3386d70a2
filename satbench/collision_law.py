"""The paper's collision law and its exact finite-n form, for a random balanced split.

A random split deals n input units (variables under pm1) into alpha groups whose sizes s_c differ
by at most one. Two clauses of k variables each, on 2k distinct variables (a read-once formula),
collide when all 2k land in one group:

    P(collide) = sum_c C(s_c, 2k) / C(n, 2k)    (hypergeometric; alpha C(n/alpha, 2k) / C(n, 2k)
                                                  when alpha divides n)

which tends to the paper's alpha^-(2k-1) as n grows. A clause stays whole with probability
sum_c C(s_c, k) / C(n, k), tending to alpha^-(k-1). Shared-variable clauses (support `shared`)
break the 2k-distinct-variables premise, so the law is compared on read-once tasks only.
"""

from math import comb


def group_sizes(n_units: int, alpha: int) -> list[int]:
    return [n_units // alpha + (c < n_units % alpha) for c in range(alpha)]


def exact_collision_rate(n_units: int, k: int, alpha: int) -> float:
    """P(two disjoint k-unit clauses fall in one group) for a random balanced split."""
    return sum(comb(s, 2 * k) for s in group_sizes(n_units, alpha)) / comb(n_units, 2 * k)


def exact_whole_rate(n_units: int, k: int, alpha: int) -> float:
    """P(a k-unit clause falls in one group) for a random balanced split."""
    return sum(comb(s, k) for s in group_sizes(n_units, alpha)) / comb(n_units, k)


def asymptotic_collision_rate(k: int, alpha: int) -> float:
    """The paper's law: alpha^-(2k-1)."""
    return float(alpha) ** -(2 * k - 1)
