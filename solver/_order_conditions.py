"""Runge–Kutta order conditions from rooted trees (Butcher's theory), in NumPy.

A Runge–Kutta method with stage matrix ``A`` and weights ``b`` has order ``p`` when, for every
rooted tree ``t`` with at most ``p`` nodes, ``b . Phi(t) = 1 / gamma(t)``: ``Phi(t)`` are the
per-stage elementary weights (the product over the subtrees ``u`` of ``A @ Phi(u)``) and
``gamma(t)`` the tree's density (its size times the densities of its subtrees).

A *continuous* extension ``y(t0 + s h) = y0 + sum_i b_i(s) k_i`` has order ``q`` when
``b(s) . Phi(t) = s^|t| / gamma(t)`` for every tree with ``|t| <= q`` and every ``s``. With
``b_i(s)`` polynomials in ``s`` these are linear equations on the polynomial coefficients:
`continuous_weights` solves them, which is how `Dopri8`'s dense output is derived.

Trees are nested sorted tuples: a tree is the tuple of its subtrees, a leaf is ``()``.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.cache
def rooted_trees(order: int) -> tuple[tuple, ...]:
    """All rooted trees with ``order`` nodes (1, 1, 2, 4, 9, 20, 48, 115, ... of them)."""
    if order == 1:
        return ((),)
    found = set()

    def forests(nodes: int, largest: int):
        # Multisets of trees with ``nodes`` nodes in total, subtree sizes non-increasing.
        if nodes == 0:
            yield ()
            return
        for size in range(min(nodes, largest), 0, -1):
            for tree in rooted_trees(size):
                for rest in forests(nodes - size, size):
                    yield (tree, *rest)

    for forest in forests(order - 1, order - 1):
        found.add(tuple(sorted(forest)))
    return tuple(sorted(found))


def tree_size(tree: tuple) -> int:
    return 1 + sum(tree_size(child) for child in tree)


def tree_density(tree: tuple) -> int:
    """gamma(t): the number of nodes times the densities of the subtrees."""
    return tree_size(tree) * int(np.prod([tree_density(child) for child in tree]))


def elementary_weights(tree: tuple, a: np.ndarray) -> np.ndarray:
    """Phi(t) per stage: the product over subtrees ``u`` of ``a @ Phi(u)``."""
    weights = np.ones(a.shape[0])
    for child in tree:
        weights = weights * (a @ elementary_weights(child, a))
    return weights


def order_residual(b: np.ndarray, a: np.ndarray, order: int) -> float:
    """The largest ``|b . Phi(t) - 1/gamma(t)|`` over the trees with ``order`` nodes."""
    return max(
        abs(b @ elementary_weights(t, a) - 1 / tree_density(t)) for t in rooted_trees(order)
    )


def _tree_equations(a: np.ndarray, order: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(M, rhs)`` of the continuous conditions of trees with ``order`` nodes on the
    flattened coefficients ``W[i, j]`` (stage i, power s^(j+1))."""
    s = a.shape[0]
    rows, rhs = [], []
    for tree in rooted_trees(order):
        phi = elementary_weights(tree, a)
        for j in range(degree):
            row = np.zeros((s, degree))
            row[:, j] = phi
            rows.append(row.ravel())
            rhs.append(1 / tree_density(tree) if j + 1 == order else 0.0)
    return np.array(rows), np.array(rhs)


def continuous_weights(
    a: np.ndarray,
    b: np.ndarray,
    order: int,
    degree: int,
    fsal_stage: int,
    stages: list[int] | None = None,
    ridge: float = 1e-5,
) -> np.ndarray:
    """Coefficients ``W`` (stages x degree) of a dense output ``b_i(s) = sum_j W[i, j]
    s^(j+1)`` of continuous order ``order`` that also matches the step's ends to first order:
    ``b(1) = b``, slope ``k_0`` at ``s = 0`` and ``k_fsal`` (the vector field at ``(t1, y1)``)
    at ``s = 1``, so the dense output is continuously differentiable across steps. Only the
    ``stages`` listed get nonzero weights (default: all).

    The equations leave some freedom. It is spent on making the conditions of order
    ``order + 1`` (the leading error terms) small in least squares, with a ``ridge`` penalty
    on the free parameters: without it the optimum has coefficients near 1e13, whose
    cancellation would lose every digit of the result (for `Dopri8`, ``ridge=1e-5`` keeps
    them below about 120 and is within 10 % of the unpenalised error on Lorenz)."""
    s = a.shape[0]
    unit = np.eye(s)
    allowed = set(range(s) if stages is None else stages)
    blocks = [_tree_equations(a, q, degree) for q in range(1, order + 1)]
    powers = np.arange(1, degree + 1)
    for i in range(s):
        end_value = np.zeros((s, degree))
        end_value[i] = 1.0
        end_slope = np.zeros((s, degree))
        end_slope[i] = powers
        start_slope = np.zeros((s, degree))
        start_slope[i, 0] = 1.0
        rows = [end_value.ravel(), end_slope.ravel(), start_slope.ravel()]
        values = [b[i], unit[fsal_stage, i], unit[0, i]]
        if i not in allowed:
            rows += list(np.eye(s * degree)[i * degree : (i + 1) * degree])
            values += [0.0] * degree
        blocks.append((np.array(rows), np.array(values)))
    matrix = np.concatenate([m for m, _ in blocks])
    rhs = np.concatenate([r for _, r in blocks])
    particular = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
    if np.max(np.abs(matrix @ particular - rhs)) > 1e-10:
        raise ValueError(f"No dense output of order {order} and degree {degree} exists.")
    # Null space of the constraints: the remaining freedom.
    _, singular, vt = np.linalg.svd(matrix)
    rank = int(np.sum(singular > 1e-10 * singular[0]))
    null = vt[rank:].T
    if null.shape[1]:
        error_matrix, error_rhs = _tree_equations(a, order + 1, degree)
        system = np.vstack([error_matrix @ null, ridge * np.eye(null.shape[1])])
        target = np.concatenate([error_rhs - error_matrix @ particular, np.zeros(null.shape[1])])
        particular = particular + null @ np.linalg.lstsq(system, target, rcond=None)[0]
    return particular.reshape(s, degree)


__all__ = [
    "rooted_trees",
    "tree_size",
    "tree_density",
    "elementary_weights",
    "order_residual",
    "continuous_weights",
]
