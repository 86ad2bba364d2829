"""JL017 python-loop-over-layers: a Python loop over a model's repeated layers in traced code (pitfall P2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import SMALL_LOOP_MAX, FileMemo, int_value
from jaxlint.rules._scopes import calls_when_run, code_of, parameter_names

# Wrappers that keep the elements of the sequence they are given (the loop still visits
# every layer): `reversed(self.layers)`, `list(self.blocks)`.
_ELEMENT_PRESERVING = frozenset({"builtins.reversed", "builtins.list", "builtins.tuple", "builtins.iter"})


@dataclass(frozen=True)
class _Builder:
    """Where the layers were made: a loop or comprehension over ``count`` (as written)."""

    count: str
    line: int


class PythonLoopOverLayers(LintRule):
    CODE = "JL017"
    NAME = "python-loop-over-layers"
    MESSAGE = (
        "Python loop over a model's layers in traced code, the layers made by one constructor repeated a "
        "configurable number of times: each iteration traces and compiles a whole layer again; stack "
        "the layers' parameters and `lax.scan` over them"
    )
    WHY = """
        A Python loop in traced code runs at trace time: `for layer in self.layers: x = layer(x)`
        traces every layer's forward pass once more, and the program holds one copy of the
        layer per element. When the model was built by one constructor repeated a configurable
        number of times (`[Block(...) for _ in range(n_layers)]`, or `.append(...)` in a `for`
        over `range(depth)`), the program, tracing, lowering and XLA compile time all grow with
        the depth, although every layer has the same structure. flowMC's normalising flows
        (RealNVP, rational-quadratic splines) looped over their coupling layers this way and
        moved to `lax.scan` over stacked layers (flowMC#153, PR #154).

        When it fires, in traced code: a `for` loop over `self.<attr>` (also `reversed(...)`,
        `enumerate(...)`, `zip(...)`, a slice) whose body calls the element (`layer(x)`,
        `layer.inverse(x)`), or a `for i in range(...)` whose body calls `self.<attr>[i](...)`;
        and a method of the same class binds `self.<attr>` to layers made per iteration of a
        loop or comprehension over a count that is not a small literal (`range(n_layers)`,
        `range(self.depth - 1)`, `range(32)`).

        Not reported: layers handed in by the caller (`eqx.nn.Sequential(layers)`, a
        `layers` parameter): nothing says how many there are or that they share a structure;
        layers made by distinct constructor calls (an MLP's input, hidden and output layers
        written out); a count up to 16 written as a literal; loops that only read the layers
        without calling them (collecting parameters, counting); loops JL002 already reports
        (`range(len(self.affine_coupling))` with a non-structural name). Equinox's
        `nn.Sequential`, haiku and flax model code loop over a handful of heterogeneous layers:
        that is the normal way to write a model, and the cost is fixed, not a size.

        Rewrite: build the layers stacked (`eqx.filter_vmap(lambda k: Block(k))(jax.random.split(key, n))`,
        or `jax.tree.map(lambda *x: jnp.stack(x), *layers)` on the arrays), then
        `lax.scan(lambda x, layer: (layer(x), None), x, stacked)` (with `eqx.combine` of the
        array and static parts under equinox); flax has `nn.scan`, haiku `hk.layer_stack`.
    """
    PITFALL = "P2"
    REFERENCES = ("flowMC#153", "flowMC PR #154")
    TRACED_ONLY = True
    FIX_SAFETY = "none"
    PREFILTER = ("for ",)
    REQUIRES = ("for",)  # in traced code (TRACED_ONLY)

    VALID: ClassVar[list[str | Valid]] = [
        # Layers handed in by the caller (equinox's Sequential): depth and structure unknown.
        """
import equinox as eqx

class Sequential(eqx.Module):
    layers: tuple

    def __init__(self, layers):
        self.layers = tuple(layers)

    @eqx.filter_jit
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
        # Written-out heterogeneous layers, a small literal depth, and a loop that only reads
        # the layers (no call per layer).
        """
import equinox as eqx
import jax
import jax.numpy as jnp

class Net(eqx.Module):
    layers: list
    heads: list

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.layers = [eqx.nn.Linear(2, 64, key=k1), eqx.nn.Linear(64, 64, key=k2), eqx.nn.Linear(64, 1, key=k3)]
        self.heads = [eqx.nn.Linear(64, 1, key=k) for k in jax.random.split(key, 4)]

    @eqx.filter_jit
    def __call__(self, x):
        for layer in self.layers:
            x = jax.nn.relu(layer(x))
        outs = []
        for head in self.heads:
            outs.append(head(x))
        return x, outs

    @eqx.filter_jit
    def weight_norm(self, blocks):
        total = 0.0
        for block in self.layers:
            total = total + jnp.sum(block.weight ** 2)
        return total
""",
        # Plain Python (nothing traces `forward`): a host-side loop is fine.
        """
class Flow:
    def __init__(self, n_layers, make_layer):
        self.layers = [make_layer(i) for i in range(n_layers)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import equinox as eqx
import jax

class Coupling(eqx.Module):
    scale: float

    def __call__(self, x):
        return x * self.scale, self.scale

class Flow(eqx.Module):
    layers: list

    def __init__(self, n_layers):
        layers = []
        for i in range(n_layers):
            layers.append(Coupling(0.5))
        self.layers = layers

    @eqx.filter_jit
    def forward(self, x):
        log_det = 0.0
        for layer in self.layers:
            x, log_det_i = layer(x)
            log_det += log_det_i
        return x, log_det
""",
            expected_message_contains="`range(n_layers)`",
        ),
        # The inverse pass, reversed, through a method of the layer.
        Invalid(
            """
import jax
import equinox as eqx

class Flow(eqx.Module):
    blocks: tuple

    def __init__(self, depth, key):
        self.blocks = tuple(Block(k) for k in jax.random.split(key, depth))

    @eqx.filter_jit
    def inverse(self, x):
        for block in reversed(self.blocks):
            x = block.inverse(x)
        return x

class Block(eqx.Module):
    w: jax.Array

    def __init__(self, key):
        self.w = jax.random.normal(key, (4, 4))

    def inverse(self, x):
        return self.w.T @ x
""",
            expected_message_contains="jitted at example.py:",
        ),
        # By index over the layers, built in a flax-style `setup`.
        Invalid(
            """
import jax

class Encoder:
    def setup(self):
        self.blocks = [Block() for _ in range(self.num_blocks)]

    def apply(self, x):
        for i in range(self.num_blocks):
            x = self.blocks[i](x)
        return x

class Block:
    def __call__(self, x):
        return x * 2.0

@jax.jit
def encode(x):
    encoder = Encoder()
    return encoder.apply(x)
""",
            expected_message_contains="`self.blocks[i]`",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self._built: dict[int, dict[str, _Builder]] = {}

    def visit_For(self, node: cst.For) -> None:
        # Cheapest questions first: most traced loops are not in a method of a class that
        # builds layers per count, and then the loop body is never walked.
        cls = self._owner_class(node)
        if cls is None:
            return
        built = self._built_attributes(cls)
        if not built:
            return
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        found = self._called_layers(node, built)
        if found is None:
            return
        attribute, shown = found
        builder = built[attribute]
        if self.memo.classifier(node).loop_size(node.iter) is not None:
            return  # a loop over a size: JL002 reports it (one finding per loop)
        self.report(
            node.iter,
            f"a Python loop over the layers `{shown}` in traced code ({reason}), made per iteration of "
            f"`{builder.count}` at line {builder.line}: each iteration traces and compiles a whole layer "
            "again, so the program grows with the depth; stack the layers' parameters "
            "(`eqx.filter_vmap` of the constructor over split keys, or `jax.tree.map(lambda *x: "
            "jnp.stack(x), *layers)`) and run them with one `lax.scan`",
        )

    # -- the loop: which `self.<attr>` sequence's elements the body calls --
    def _called_layers(self, loop: cst.For, built: dict[str, _Builder]) -> tuple[str, str] | None:
        """(attribute, text to show) when the body calls an element of ``self.<attribute>``,
        one of the ``built`` attributes."""
        bindings = [
            (target, sequence)
            for target, sequence in _element_bindings(loop.target, loop.iter, self.context)
            if _self_attribute(sequence) in built
        ]
        is_range = (
            isinstance(loop.target, cst.Name)
            and isinstance(loop.iter, cst.Call)
            and self.context.qualified_name(loop.iter.func) == "builtins.range"
        )
        if not bindings and not is_range:
            return None
        calls = calls_when_run(loop.body)
        # `for layer in self.layers` (and wrappers): the body calls the loop variable.
        for target, sequence in bindings:
            if any(_calls_name(call, target) for call in calls):
                return _self_attribute(sequence), code_of(sequence)  # type: ignore[return-value]
        # `for i in range(...)`: the body calls `self.<attr>[i]`.
        if is_range:
            for call in calls:
                element = _callee_object(call)
                if (
                    isinstance(element, cst.Subscript)
                    and len(element.slice) == 1
                    and isinstance(element.slice[0].slice, cst.Index)
                    and isinstance(element.slice[0].slice.value, cst.Name)
                    and element.slice[0].slice.value.value == loop.target.value
                ):
                    attribute = _self_attribute(element.value)
                    if attribute in built:
                        return attribute, code_of(element)
        return None

    def _owner_class(self, node: cst.CSTNode) -> cst.ClassDef | None:
        """The class whose method (or a closure in that method) holds ``node``."""
        method: cst.FunctionDef | None = None
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                method = ancestor
            elif isinstance(ancestor, cst.ClassDef):
                return ancestor if method is not None and method in ancestor.body.body else None
        return None

    # -- the class: which `self.<attr>` are built per iteration of a loop over a count? --
    def _built_attributes(self, cls: cst.ClassDef) -> dict[str, _Builder]:
        """attribute -> where its layers were made, for every ``self.<attr> = ...`` in the
        class's methods whose value is made per iteration of a configurable count (one scan
        per class)."""
        found = self._built.get(id(cls))
        if found is not None:
            return found
        found = {}
        for statement in cls.body.body:
            if not isinstance(statement, cst.FunctionDef):
                continue
            params = parameter_names(statement.params)
            if not params:
                continue
            owner = params[0]  # `self`
            for node in _statements(statement.body):
                if isinstance(node, cst.Assign):
                    targets = [t.target for t in node.targets]
                    value: cst.BaseExpression | None = node.value
                elif isinstance(node, cst.AnnAssign):
                    targets, value = [node.target], node.value
                else:
                    continue
                if value is None:
                    continue
                for target in targets:
                    if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                            and target.value.value == owner and target.attr.value not in found):
                        builder = self._made_per_count(value, statement, 0)
                        if builder is not None:
                            found[target.attr.value] = builder
        self._built[id(cls)] = found
        return found

    def _made_per_count(self, value: cst.BaseExpression, function: cst.FunctionDef, depth: int) -> _Builder | None:
        """``value`` is a sequence made by a loop or comprehension over a configurable count."""
        if depth > 4:
            return None
        if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
            return self._counted_comprehension(value.for_in)
        if isinstance(value, cst.Call) and value.args and not value.args[0].keyword:
            # tuple(...), list(...), nn.ModuleList([...]): the elements of the first argument
            return self._made_per_count(value.args[0].value, function, depth + 1)
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
            # [Block(...)] * n_layers: one layer object, still one traced copy per element
            for sequence, count in ((value.left, value.right), (value.right, value.left)):
                if isinstance(sequence, cst.List) and self._configurable(count):
                    return _Builder(code_of(value), self.context.position(value)[0])
            return None
        if isinstance(value, cst.Name):
            return self._built_local(value.value, function, depth)
        return None

    def _built_local(self, name: str, function: cst.FunctionDef, depth: int) -> _Builder | None:
        """``layers = []`` then ``layers.append(...)`` in a ``for`` over a count (or ``layers =
        [... for _ in range(n)]``) in the same method."""
        for node in _statements(function.body):
            if isinstance(node, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets
            ) and not isinstance(node.value, (cst.List, cst.Tuple)):
                found = self._made_per_count(node.value, function, depth + 1)
                if found is not None:
                    return found
            if isinstance(node, cst.For) and _grows(node.body, name):
                found = self._counted_iterable(node.iter)
                if found is not None:
                    return found
        return None

    def _counted_comprehension(self, comp: cst.CompFor) -> _Builder | None:
        current: cst.CompFor | None = comp
        while current is not None:
            found = self._counted_iterable(current.iter)
            if found is not None:
                return found
            current = current.inner_for_in
        return None

    def _counted_iterable(self, iterable: cst.BaseExpression) -> _Builder | None:
        """``range(n_layers)``, ``enumerate(range(depth))``, ``jax.random.split(key, depth)``:
        as many iterations as a configurable count."""
        if not isinstance(iterable, cst.Call):
            return None
        qualified = self.context.qualified_name(iterable.func)
        arguments = [a.value for a in iterable.args if a.keyword is None and not a.star]
        if qualified == "builtins.enumerate" and arguments:
            return self._counted_iterable(arguments[0])
        if qualified == "builtins.range" and arguments and len(arguments) <= 3:
            stop = arguments[0] if len(arguments) == 1 else arguments[1]
            if self._configurable(stop):
                return _Builder(code_of(iterable), self.context.position(iterable)[0])
            return None
        if qualified == "jax.random.split" and len(arguments) == 2 and self._configurable(arguments[1]):
            return _Builder(code_of(iterable), self.context.position(iterable)[0])
        return None

    def _configurable(self, count: cst.BaseExpression) -> bool:
        """Not a small literal: a name, an attribute, arithmetic on one, or a literal above 16.
        ``len(<literal>)`` is written in the code; ``len(sizes)`` is configurable."""
        literal = int_value(count, self.memo.constants)
        if literal is not None:
            return literal > SMALL_LOOP_MAX
        if isinstance(count, cst.Call):
            if self.context.qualified_name(count.func) == "builtins.len" and count.args:
                return not isinstance(count.args[0].value, (cst.List, cst.Tuple))
            return False
        return isinstance(count, (cst.Name, cst.Attribute, cst.BinaryOperation))


_BLOCK_PARTS = (cst.BaseSuite, cst.BaseCompoundStatement, cst.SimpleStatementLine, cst.Else, cst.ExceptHandler,
                cst.ExceptStarHandler, cst.Finally)


def _statements(block: cst.BaseSuite) -> Iterator[cst.CSTNode]:
    """Every statement of a function body (small ones and compound ones, in nested blocks),
    not the expressions inside them nor nested defs and classes: binding sites of
    ``self.<attr>`` and loops, found without walking every node."""
    stack: list[cst.CSTNode] = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(node, cst.SimpleStatementLine):
            yield from node.body
            continue
        if isinstance(node, cst.SimpleStatementSuite):
            yield from node.body
            continue
        if isinstance(node, cst.BaseCompoundStatement):
            yield node
        stack.extend(reversed([child for child in node.children if isinstance(child, _BLOCK_PARTS)]))


def _element_bindings(
    target: cst.BaseExpression, iterable: cst.BaseExpression, context
) -> list[tuple[str, cst.BaseExpression]]:
    """(loop variable, sequence it walks) pairs: ``layer`` / ``self.layers`` for ``for layer in
    reversed(self.layers)``, ``for i, layer in enumerate(...)``, ``for a, b in zip(xs, ys)``."""
    while True:
        if isinstance(iterable, cst.Subscript) and all(isinstance(e.slice, cst.Slice) for e in iterable.slice):
            iterable = iterable.value  # self.layers[:-1], self.layers[::-1]
            continue
        if isinstance(iterable, cst.Call) and iterable.args:
            qualified = context.qualified_name(iterable.func)
            if qualified in _ELEMENT_PRESERVING and len(iterable.args) == 1:
                iterable = iterable.args[0].value
                continue
            if qualified == "builtins.enumerate" and isinstance(target, cst.Tuple) and len(target.elements) == 2:
                target, iterable = target.elements[1].value, iterable.args[0].value
                continue
            if qualified == "builtins.zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iterable.args):
                found = []
                for element, argument in zip(target.elements, iterable.args):
                    found += _element_bindings(element.value, argument.value, context)
                return found
        break
    return [(target.value, iterable)] if isinstance(target, cst.Name) else []


def _self_attribute(expr: cst.BaseExpression) -> str | None:
    """``self.layers`` -> "layers" (any first-parameter name is checked by the builder search)."""
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        return expr.attr.value
    return None


def _callee_object(call: cst.Call) -> cst.BaseExpression:
    """What a call runs: ``layer`` for ``layer(x)`` and for ``layer.inverse(x)``."""
    func = call.func
    return func.value if isinstance(func, cst.Attribute) else func


def _calls_name(call: cst.Call, name: str) -> bool:
    """``layer(x)`` or ``layer.inverse(x)``, with at least one argument (data goes through the
    layer; ``layer.num_params()`` reads it)."""
    element = _callee_object(call)
    return isinstance(element, cst.Name) and element.value == name and bool(call.args)


def _grows(body: cst.CSTNode, name: str) -> bool:
    """The loop body adds to the list ``name``: ``name.append(...)``, ``.extend``, ``+=``."""
    for call in calls_when_run(body):
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("append", "extend", "insert")
            and isinstance(func.value, cst.Name)
            and func.value.value == name
        ):
            return True
    found = False

    class _Augmented(cst.CSTVisitor):
        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            nonlocal found
            if isinstance(node.target, cst.Name) and node.target.value == name and isinstance(node.operator, cst.AddAssign):
                found = True

    body.visit(_Augmented())
    return found
