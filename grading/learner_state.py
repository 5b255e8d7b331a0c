"""Tests the checker cannot judge: test code that reads state living in the learner's kernel.

Autograded test cells run in the checker, a separate interpreter; they reach the learner's values
only through the notebook's global names (see ``_bridge.py``). State that is not a global name —
pyplot's current figure, the learner's shell and history, the learner's loaded modules — is the
checker's own there, so a test reading it would judge the wrong thing. Such a test is refused (it
fails with one line naming the cell and the reason) and ``credkit validate`` warns about it before
release. The README ("Writing tests the checker can judge") says how to write one that works.
"""

from __future__ import annotations

import ast
import functools

__all__ = ["learner_state_uses"]

# pyplot's functions that read its global "current figure" state.
_PYPLOT_STATE = {"gcf", "gca", "gci", "get_fignums", "get_figlabels", "findobj", "get_current_fig_manager"}
# Built-ins that, called without arguments, read the caller's namespace.
_NAMESPACE_READERS = {"globals", "vars", "dir", "locals"}
# IPython's history and shell names.
_SHELL_NAMES = {"get_ipython", "In", "Out", "_ih", "_oh", "_dh"}
_MAGICS = ("%who", "%whos", "%history", "%hist", "%store", "%matplotlib")


@functools.lru_cache(maxsize=1024)  # a test cell's text is the same in every submission
def learner_state_uses(source: str) -> tuple[str, ...]:
    """Why ``source`` (a test cell) needs state of the learner's kernel; empty when it does not."""
    reasons: list[str] = []
    code_lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(_MAGICS):
            reasons.append(f"it uses the magic {stripped.split()[0]}, which reads the learner's kernel")
        code_lines.append("" if stripped.startswith(("%", "!")) else line)
    try:
        tree = ast.parse("\n".join(code_lines))
    except SyntaxError:
        return tuple(reasons)  # it fails on its own, with its SyntaxError, as under stock nbgrader
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _PYPLOT_STATE:
            reasons.append(f"it calls {ast.unparse(node.func)}(), which reads pyplot's current figure "
                           "(that figure lives in the learner's kernel)")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NAMESPACE_READERS
              and not node.args):
            reasons.append(f"it calls {node.func.id}() without arguments, which lists a namespace")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in _SHELL_NAMES:
            reasons.append(f"it reads {node.id}, the learner's shell or history")
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and ast.unparse(node.value) == "sys":
            reasons.append("it reads sys.modules, the learner's loaded modules")
    return tuple(dict.fromkeys(reasons))
