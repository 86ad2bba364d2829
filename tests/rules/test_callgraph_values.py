"""Traced context through values: what a function or method returns, tuple unpacking, elements
added to a container, loops through enumerate/zip/items, and method calls on a subscript or on
a call's result (``self.profiles[k].deflection(x)``, ``Helper(q).series(x)``)."""

from __future__ import annotations

import textwrap

from jaxlint.rules._callgraph import summarize_module, traced_functions


def traced(sources: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    summaries = {
        path: summarize_module(textwrap.dedent(text), module, path.endswith("__init__.py"))
        for path, (module, text) in sources.items()
    }
    return traced_functions(summaries)


# A lens-model-like package: profiles made by a factory method chosen from strings, kept in a
# list built by append, returned as the first element of a tuple and unpacked into fields.
PROFILES = {
    "lens/__init__.py": ("lens", ""),
    "lens/profiles.py": ("lens.profiles", '''
        import jax.numpy as jnp

        class Series:
            def __init__(self, q):
                self.q = q

            def value(self, z):
                return series(z, self.q, 20)

        def series(z, q, nmax):
            total = 0.0
            for i in range(1, nmax):
                total = total + z ** i
            return total

        class Power:
            def __init__(self):
                self.major = Series(0.5)

            def deflection(self, x):
                return self.major.value(x)

        class Point:
            def deflection(self, x):
                return Helper(2.0).inverse(x)

        class Helper:
            def __init__(self, q):
                self.q = q

            def inverse(self, x):
                return 1.0 / x

        class Sheet:
            def deflection(self, x):
                return x

        class Unused:
            def deflection(self, x):
                return x
    '''),
    "lens/model.py": ("lens.model", '''
        import jax
        from lens import profiles

        def make_sheet():
            return profiles.Sheet()

        class Model:
            def __init__(self, names):
                self.func_list, self.index = self._load(names)
                self.extra, self.other = make_sheet(), profiles.Point()

            def _load(self, names):
                func_list = []
                for name in names:
                    func_list.append(self._make(name))
                return func_list, 0

            @staticmethod
            def _make(name):
                if name == "POWER":
                    return profiles.Power()
                return profiles.Point()

            def alpha(self, x, k=None):
                if k is not None:
                    return self.func_list[k].deflection(x)
                total = self.extra.deflection(x) + self.other.deflection(x)
                for i, func in enumerate(self.func_list):
                    total = total + func.deflection(x)
                return total

        @jax.jit
        def loss(model: Model, x):
            return model.alpha(x)
    '''),
}


def test_types_flow_through_returns_unpacking_and_appended_elements() -> None:
    found = traced(PROFILES)
    profiles = found["lens/profiles.py"]
    # _load returns (func_list, 0); func_list gets what _make returns: Power and Point.
    assert "Power.deflection" in profiles and "Point.deflection" in profiles
    assert profiles["Power.deflection"].startswith("`Power.deflection` ← `")
    # then through a field bound in __init__ to a class instance, down to the plain function
    assert {"Series.value", "series"} <= set(profiles)
    # `a, b = make_sheet(), profiles.Point()`: pairwise; a function's return is typed
    assert "Sheet.deflection" in profiles
    # `Helper(2.0).inverse(x)`: a method of a call's result
    assert "Helper.inverse" in profiles
    # nothing makes an Unused
    assert "Unused.deflection" not in profiles


def test_subscript_receiver_alone_reaches_the_elements() -> None:
    sources = dict(PROFILES)
    module, text = sources["lens/model.py"]
    # only `self.func_list[k].deflection(x)` is left in alpha
    text = text.replace(
        "                total = self.extra.deflection(x) + self.other.deflection(x)\n"
        "                for i, func in enumerate(self.func_list):\n"
        "                    total = total + func.deflection(x)\n"
        "                return total\n",
        "                return 0.0\n",
    )
    sources["lens/model.py"] = (module, text)
    profiles = traced(sources)["lens/profiles.py"]
    assert "Power.deflection" in profiles and "Point.deflection" in profiles
    assert "Sheet.deflection" not in profiles
    assert "`self.func_list[...].deflection` in `model.Model.alpha`" in profiles["Power.deflection"]


def test_loops_through_zip_items_and_reversed() -> None:
    sources = {
        "m.py": ("m", '''
            import jax

            class A:
                def run(self, x):
                    return x

            class B:
                def run(self, x):
                    return x

            class C:
                def run(self, x):
                    return x

            class D:
                def run(self, x):
                    return x

            @jax.jit
            def f(x):
                firsts = [A(), A()]
                seconds = [B()]
                table = {"c": C()}
                stack = []
                stack.extend([D()])
                for a, b in zip(firsts, seconds):
                    x = a.run(x) + b.run(x)
                for name, c in table.items():
                    x = c.run(x)
                for d in reversed(stack):
                    x = d.run(x)
                return x
        '''),
    }
    found = traced(sources)["m.py"]
    assert {"A.run", "B.run", "D.run"} <= set(found)
    # dict literals are not typed (a dict's values are not its keys): C stays untraced
    assert "C.run" not in found


def test_unknown_values_stay_unknown() -> None:
    sources = {
        "m.py": ("m", '''
            import jax

            REGISTRY = []

            class A:
                def run(self, x):
                    return x

            def register(thing):
                REGISTRY.append(A())  # a global list: not a local of `register`
                return thing

            @jax.jit
            def f(x, make):
                obj = make()  # calling a parameter: unknown
                y, z = x, x
                for item in REGISTRY:
                    item.run(x)
                return obj.run(y)
        '''),
    }
    assert "A.run" not in traced(sources)["m.py"]


def test_malformed_return_types_type_nothing() -> None:
    """A summary from a planted cache may hold anything JSON can: no crash, nothing typed."""
    sources = {"m.py": ("m", '''
        import jax

        class A:
            def run(self, x):
                return x

        def make():
            return A()

        @jax.jit
        def f(x):
            a, b = make(), make()
            return make().run(x) + a.run(x)
    ''')}
    summaries = {path: summarize_module(textwrap.dedent(text), module) for path, (module, text) in sources.items()}
    assert "A.run" in traced_functions(summaries)["m.py"]
    summary = summaries["m.py"]
    summary.returns = {"make": [(-1, ("ret", "not json", ())), (0, ("ret", '["disp", 1]', ())), ("x",), (-1, ("local",))]}
    summary.dispatches = [(c, ("ret", '{"a": 1}', ()), m, t, g, k) for c, _, m, t, g, k in summary.dispatches]
    assert "A.run" not in traced_functions(summaries)["m.py"]
