"""The in-kernel harness: runs inside the learner's kernel, set up before any learner code.

The runner evaluates this file in the kernel (through ``user_expressions``, which no IPython input
or AST transformer touches) before the first cell, then calls the returned check before every
autograded test cell. It records a baseline of what tests rely on and, before each test cell:

- restores IPython input transformers, AST transformers and event hooks added since, replaced
  builtins and ``math`` functions, and tracing/profiling hooks — the test then runs against the
  originals, so tampering earns nothing and honest answers still count;
- reports what it cannot restore — a replaced ``run_cell``, ``sys`` hooks, ``numpy`` comparison
  helpers or ``unittest`` assertions pointing at code defined outside their library — and the
  runner fails that test cell and every later one;

and it provides the strict equality the runner substitutes into test cells' ``assert a == b``: when
the expected value is of a builtin type, the actual value must be of that exact type (or a plain
number) and compare equal element by element — an object whose ``__eq__`` always says True fails.

This narrows, and cannot close, what code sharing the interpreter can do (README, "Grading safely").
"""

# Evaluated as the body of a function by the runner: no top-level names leak into the kernel.


def _install(token):  # type: ignore[no-untyped-def]
    import builtins
    import math
    import sys

    ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    baseline_builtins = dict(vars(builtins))
    baseline = {
        "input_transformers_cleanup": list(ip.input_transformers_cleanup),
        "input_transformers_post": list(ip.input_transformers_post),
        "ast_transformers": list(ip.ast_transformers),
    }
    baseline_events = {name: list(cbs) for name, cbs in ip.events.callbacks.items()}
    baseline_hooks = {"excepthook": sys.excepthook, "displayhook": sys.displayhook}
    math_funcs = {name: getattr(math, name) for name in dir(math) if callable(getattr(math, name))}
    run_cell = type(ip).run_cell
    number_types = (int, float, complex, bool)
    strict_types = (int, float, complex, bool, str, bytes, list, tuple, dict, set, frozenset, type(None))
    library_eq = {t: t.__eq__ for t in strict_types}

    def strict_equal(actual, expected):  # type: ignore[no-untyped-def]
        if type(expected) not in strict_types:
            return actual == expected  # not ours to judge (numpy arrays, custom classes)
        return _strict(actual, expected)

    def _strict(actual, expected):  # type: ignore[no-untyped-def]
        te, ta = type(expected), type(actual)
        if te in number_types:
            if ta in number_types or (ta.__module__ == "numpy" and isinstance(actual, (int, float, complex))):
                return bool(actual == expected)
            return False
        if ta is not te or ta.__eq__ is not library_eq[te]:
            return False
        if te in (list, tuple):
            return len(actual) == len(expected) and all(_strict(a, e) for a, e in zip(actual, expected))
        if te is dict:
            return actual.keys() == expected.keys() and all(_strict(actual[k], expected[k]) for k in expected)
        return bool(actual == expected)

    def foreign(func):  # type: ignore[no-untyped-def]
        code = getattr(func, "__code__", None)
        if code is None:
            return False  # a C function: not learner-made
        return not (code.co_filename.startswith(sys.prefix) or code.co_filename.startswith(sys.base_prefix))

    def check():  # type: ignore[no-untyped-def]
        problems = []  # restored: the test then runs against the original
        fatal = []  # cannot be restored: the test fails
        for name, original in baseline.items():
            current = getattr(ip, name)
            if list(current) != original:
                problems.append(f"IPython {name} changed")
                current[:] = original
        for name, original in baseline_events.items():
            if ip.events.callbacks.get(name) != original:
                problems.append(f"IPython event {name} callbacks changed")
                ip.events.callbacks[name][:] = original
        if type(ip).run_cell is not run_cell or "run_cell" in vars(ip):
            fatal.append("IPython run_cell replaced")
        if ip.custom_exceptions:
            problems.append("IPython custom exception handler set")
            ip.set_custom_exc((), None)
        current_builtins = vars(builtins)
        for name, value in baseline_builtins.items():
            if name in ("_", "__", "___"):
                continue  # the display hook's output cache
            if current_builtins.get(name, value) is not value:
                problems.append(f"builtin {name} replaced")
                current_builtins[name] = value
        if sys.gettrace() is not None or sys.getprofile() is not None:
            problems.append("a trace or profile hook is set")
            sys.settrace(None)
            sys.setprofile(None)
        for name, original in baseline_hooks.items():
            if getattr(sys, name) is not original and foreign(getattr(sys, name)):
                fatal.append(f"sys.{name} replaced")
        for name, original in math_funcs.items():
            if getattr(math, name, None) is not original:
                problems.append(f"math.{name} replaced")
                setattr(math, name, original)
        np = sys.modules.get("numpy")
        if np is not None:
            for name in ("allclose", "isclose", "array_equal", "array_equiv", "all", "any", "abs"):
                if foreign(getattr(np, name, None)):
                    fatal.append(f"numpy.{name} replaced")
            testing = getattr(np, "testing", None)
            for name in dir(testing) if testing is not None else ():
                if name.startswith("assert_") and foreign(getattr(testing, name)):
                    fatal.append(f"numpy.testing.{name} replaced")
        unittest = sys.modules.get("unittest")
        if unittest is not None:
            for name in dir(unittest.TestCase):
                if name.startswith("assert") and foreign(getattr(unittest.TestCase, name)):
                    fatal.append(f"unittest.TestCase.{name} replaced")
        return ["; ".join(problems), "; ".join(fatal)]

    # Random names: learner code cannot know them before they exist.
    setattr(builtins, f"__credkit_eq_{token}__", strict_equal)
    setattr(builtins, f"__credkit_check_{token}__", check)
    baseline_builtins[f"__credkit_eq_{token}__"] = strict_equal
    baseline_builtins[f"__credkit_check_{token}__"] = check
    return "installed"
