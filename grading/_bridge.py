"""The data-only bridge between the checker kernel (trusted) and the learner kernel (hostile).

Autograded test cells run in a *checker* kernel; the learner's code runs in the *learner* kernel. The
two are joined by one stream socket, and this module is the whole protocol on it. It is loaded by file
path into both kernels (``spec_from_file_location("credkit_bridge", path)``), so it imports only the
standard library at module level and never the credkit packages; numpy and pandas are imported only
when a value needs them. Nothing received is unpickled or evaluated: every frame is JSON, and a fixed
decoder rebuilds plain library types from it, whatever subclass the sender had.

Wire format
    A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Requests are
    ``{"id": <random 63-bit int>, "op": ..., ...}``; replies are ``{"id", "ok": <value>, "stdout",
    "stderr"}`` or ``{"id", "error": {"type": <builtin exception name>, "message", "args"?}, "stdout",
    "stderr"}``, with ``"copyback"`` when a call changed a mutable argument. A reply whose id is not
    the one awaited (a late answer to an interrupted request) is dropped.

Operations
    The checker asks: ``names`` (the learner's global names), ``get {name}``, ``call {handle, args,
    kwargs}``, ``getattr``/``setattr {handle, name[, value]}``, ``getitem``/``setitem``/``delitem
    {handle, key[, value]}``, ``len``, ``iter``, ``next``, ``contains {handle, value}``, ``bool``,
    ``str``, ``repr``, ``format {handle, spec}`` and ``end``. Requests may carry ``release``: handles
    the checker no longer holds. The learner may only ask ``call {handle, args, kwargs, ctx}`` of a
    checker function it was given, while the checker waits on request ``ctx``.

Values
    None, bool, str, int and finite float are themselves; everything else is ``{"$": tag, ...}``.
    Tags: list tuple dict set frozenset Counter OrderedDict defaultdict deque namedtuple bytes
    bytearray complex float (non-finite) int (beyond 2**1000, as hex) fraction decimal date datetime
    time timedelta timezone zoneinfo range slice ellipsis builtin (a builtin type) module; numpy:
    ndarray objarray npscalar npdtype; pandas: pdts pdtd pdnat pdna pdperiod pdrange pdmulti pdindex
    series dataframe; and the references: handle (a learner object, checker side: a :class:`Remote`),
    ref (a learner object sent back to the learner), callback (a checker callable, learner side: an
    object that can only be called), cbref (a callback sent back), sqlite (a checker
    ``sqlite3.Connection``, by value).

Copy-back
    After a call, the callee's side re-encodes each top-level argument that crossed by value and is
    mutable (list, dict and its collections subclasses, set, bytearray, deque, ndarray, Series,
    DataFrame) and reports those whose encoding changed; the caller applies the new state in place.
    What it cannot do: keep the identity of objects nested inside an argument (they are replaced by
    new ones), see changes to arguments nested in a tuple or other immutable container, changes made
    after the call returned (the callee kept a reference), aliasing between arguments (``f(a, a)``
    gets two copies), an ndarray whose shape or dtype changed, or changes to a ``sqlite3``
    connection's database. pandas objects are replaced wholesale (``NDFrame._update_inplace``).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import collections
import datetime
import decimal
import fractions
import importlib
import importlib.util
import json
import keyword
import math
import os
import re
import secrets
import signal
import socket
import struct
import sys
import sysconfig
import threading
import time
import types
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_FRAME",
    "MAX_HANDLES",
    "Bridge",
    "BridgeBroken",
    "LearnerNamespace",
    "Remote",
    "serve",
]

MAX_FRAME = 64 * 1024 * 1024
MAX_DEPTH = 100
MAX_HANDLES = 100_000
MAX_CAPTURE = 1024 * 1024  # characters of learner stdout (and of stderr) kept per call
MAX_MESSAGE = 4000  # characters of an exception's message
_MAX_NODES = 5_000_000
_MAX_HEX = 100_000  # a bigger int would make Fraction/gcd work on the checker side unbounded
_MAX_NAMEDTUPLES = 10_000
_MAX_FIELDS = 1000
_BIG = 1 << 1000  # decimal JSON ints past ~4300 digits fail both ends (int_max_str_digits)
_HEADER = struct.Struct(">I")
_MISSING = object()

# dtype.str of the numpy dtypes that cross as raw bytes; object, void and structured never do.
_DTYPE_RE = re.compile(r"[<>|][biufcmMSU][0-9]{1,5}(\[[0-9]{0,6}[A-Za-z]{1,2}\])?\Z")
_UNIT_RE = re.compile(r"(ns|us|ms|s)\Z")
_TZ_RE = re.compile(r"[A-Za-z0-9_+\-/:]{1,64}\Z")
_FREQ_RE = re.compile(r"[A-Za-z0-9\-]{1,20}\Z")
_EXT_RE = re.compile(r"(U?Int(8|16|32|64)|Float(32|64)|boolean|period\[[A-Za-z0-9\-]{1,20}\])\Z")
_HEX_RE = re.compile(r"-?[0-9a-f]{1,%d}\Z" % _MAX_HEX)
_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,20}\Z")
_FACTORIES = frozenset(
    {"int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple", "dict", "set", "frozenset", "bool"}
)
_KINDS = frozenset({"function", "class", "object", "iterator"})
# Checker builtins that never cross as callbacks: learner code could call them with any arguments.
_NO_CALLBACK = frozenset(
    {"eval", "exec", "compile", "open", "__import__", "breakpoint", "input", "globals", "locals", "vars",
     "getattr", "setattr", "delattr", "exit", "quit", "help"}
)
# Installed modules whose import does something (prints, opens a browser): never imported for a learner.
_NO_IMPORT = frozenset({"this", "antigravity", "__hello__", "__phello__", "turtle", "tkinter", "idlelib"})
# Names the learner's *kernel* defines (IPython history, exit, open, ...): never read from there.
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open", "_oh", "_ih", "_dh"})
_KERNEL_NAME_RE = re.compile(r"(_+|_i+\d*|_\d+|__\w*__)\Z")


class BridgeBroken(RuntimeError):
    """The learner's kernel died, closed the bridge, stopped answering or broke the protocol."""


class _ProtocolError(Exception):
    """Internal: the other side sent something that is not the protocol."""


class _Closed(Exception):
    """Internal: the socket is closed or failed."""


class _Timeout(Exception):
    """Internal: no frame before the deadline."""


class _Unsupported(Exception):
    """Internal: no by-value encoding for this value; it crosses as a reference."""


class _TooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"credkit: the value is too large to cross between the kernels (limit {limit} bytes)")


# --------------------------------------------------------------------------------------------- frames


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(obj: Any, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit`` (before any recursive rebuilding) or non-finite."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        t = type(o)
        if t is dict or t is list:
            if d > limit:
                raise _ProtocolError("a frame nested too deeply")
            stack.extend((v, d + 1) for v in (o.values() if t is dict else o))
        elif t is float and not math.isfinite(o):
            raise _ProtocolError("a non-finite JSON number")


class _Conn:
    """Length-prefixed JSON frames on a stream socket, with a receive buffer."""

    def __init__(self, sock: socket.socket, max_frame: int, json_depth: int) -> None:
        self.sock, self.max_frame, self.json_depth = sock, max_frame, json_depth
        self.buf = bytearray()

    def pack(self, msg: dict[str, Any]) -> bytes:
        # ensure_ascii: lone surrogates in str survive as \\ud800 escapes
        data = json.dumps(msg, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
        if len(data) > self.max_frame:
            raise _TooLarge(self.max_frame)
        return _HEADER.pack(len(data)) + data

    def send(self, frame: bytes, timeout: float | None) -> None:
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(frame)
        except OSError as exc:
            raise _Closed(f"sending failed ({exc})") from None

    def recv(self, deadline: float | None) -> Any:
        while True:
            if len(self.buf) >= 4:
                (n,) = _HEADER.unpack_from(self.buf)
                if n > self.max_frame:
                    raise _ProtocolError(f"a frame of {n} bytes (the limit is {self.max_frame})")
                if len(self.buf) >= 4 + n:
                    body = bytes(self.buf[4 : 4 + n])
                    del self.buf[: 4 + n]
                    return self._parse(body)
                want = 4 + n - len(self.buf)
            else:
                want = 4 - len(self.buf)
            if deadline is None:
                self.sock.settimeout(None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Timeout
                self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(min(max(want, 65536), 1 << 22))
            except TimeoutError:
                raise _Timeout from None
            except InterruptedError:
                continue
            except OSError as exc:
                raise _Closed(f"receiving failed ({exc})") from None
            if not chunk:
                raise _Closed("the socket was closed")
            self.buf += chunk

    def _parse(self, body: bytes) -> Any:
        try:
            msg = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError:
            raise _ProtocolError("a frame nested too deeply") from None
        except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
            raise _ProtocolError(f"a frame that is not JSON ({str(exc)[:200]})") from None
        _check_tree(msg, self.json_depth)
        return msg


class _Budget:
    """Bounds the work and size of one encoding, so a huge or exponentially shared value fails early."""

    __slots__ = ("nodes", "size", "limit")

    def __init__(self, limit: int) -> None:
        self.nodes, self.size, self.limit = 0, 0, limit

    def add(self, size: int = 0) -> None:
        self.nodes += 1
        self.size += size
        if self.nodes > _MAX_NODES or self.size > self.limit:
            raise _TooLarge(self.limit)


# ---------------------------------------------------------------------------------------- small helpers


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(s: Any) -> bytes:
    if type(s) is not str:
        raise _ProtocolError("bytes that are not base64 text")
    return binascii.a2b_base64(s, strict_mode=True)


def _field(j: dict[str, Any], key: str, kind: type) -> Any:
    v = j.get(key, _MISSING)
    if type(v) is not kind:
        raise _ProtocolError(f"field {key!r} of a {str(j.get('$'))[:40]!r} value is not {kind.__name__}")
    return v


def _opt_str(j: dict[str, Any], key: str) -> str | None:
    v = j.get(key)
    if v is not None and type(v) is not str:
        raise _ProtocolError(f"field {key!r} is not text")
    return v


def _ints(j: dict[str, Any], key: str, n: int) -> list[int]:
    v = _field(j, key, list)
    if len(v) != n or any(type(x) is not int for x in v):
        raise _ProtocolError(f"field {key!r} is not {n} integers")
    return v


def _qualname(t: Any) -> str:
    name = getattr(t, "__qualname__", None)
    module = getattr(t, "__module__", None)
    if type(name) is not str:
        return "object"
    if type(module) is str and module != "builtins":
        name = f"{module}.{name}"
    return name[:200]


def _short_repr(x: Any) -> str:
    try:
        text = repr(x)
        if type(text) is not str:
            raise TypeError
    except Exception:
        text = f"<{_qualname(type(x))} object>"
    return text if len(text) <= 200 else text[:199] + "…"


def _builtin_name(cls: Any) -> str | None:
    name = getattr(cls, "__name__", None)
    return name if type(name) is str and getattr(builtins, name, None) is cls else None


def _error_info(exc: BaseException) -> dict[str, Any]:
    """An exception as the nearest builtin class in its MRO, its text and (plain) args."""
    name = "Exception"
    for cls in type(exc).__mro__:
        found = _builtin_name(cls)
        if found is not None:
            name = found
            break
    try:
        message = str(exc)
        if type(message) is not str:
            raise TypeError
    except BaseException:
        message = f"<a {name} whose text could not be read>"
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    info: dict[str, Any] = {"type": name, "message": message}
    try:
        args = exc.args
        if (
            type(args) is tuple
            and len(args) <= 8
            and all(
                a is None
                or type(a) is bool
                or (type(a) is int and -_BIG < a < _BIG)
                or (type(a) is float and math.isfinite(a))
                or (type(a) is str and len(a) <= MAX_MESSAGE)
                for a in args
            )
        ):
            info["args"] = list(args)
    except BaseException:
        pass
    return info


def _exception(info: Any) -> BaseException:
    """Rebuild an error reply as the builtin exception it names (never one that stops the kernel)."""
    if type(info) is not dict or type(info.get("type")) is not str or type(info.get("message")) is not str:
        raise _ProtocolError("an error reply without a type and a message")
    name, message = info["type"][:100], info["message"][:MAX_MESSAGE]
    args = info.get("args")
    cls = getattr(builtins, name, None)
    # only Exception subclasses: a BaseException would escape the test's own `except Exception`
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return RuntimeError(f"{name} in the learner's code: {message}" if message else f"{name} in the learner's code")
    if type(args) is list and all(a is None or type(a) in (bool, int, float, str) for a in args):
        try:
            exc = cls(*args)
            if str(exc) == message:
                return exc
        except Exception:
            pass
    try:
        return cls(message)
    except Exception:
        return RuntimeError(f"{name}: {message}")


def _raise_learner_error(exc: BaseException) -> None:
    __tracebackhide__ = True
    raise exc


# IPython always shows the frame an exception was raised in: make that frame read as the learner's
# kernel (no source line of this file), not the bridge's internals.
_raise_learner_error.__code__ = _raise_learner_error.__code__.replace(
    co_filename="<the learner's kernel>", co_name="learner_code", co_qualname="learner_code", co_firstlineno=1
)


def _numpy() -> Any:
    import numpy

    return numpy


def _pandas() -> Any:
    import pandas

    return pandas


def _np_dtype(np: Any, s: Any, allow_object: bool = False) -> Any:
    if type(s) is not str or not (_DTYPE_RE.match(s) or (allow_object and s == "|O")):
        raise _ProtocolError(f"a numpy dtype that does not cross: {str(s)[:40]!r}")
    dt = np.dtype(s)
    if dt.fields is not None or (dt.itemsize == 0 and s != "|O"):
        raise _ProtocolError("a structured or empty numpy dtype")
    return dt


def _shape(j: dict[str, Any]) -> tuple[int, ...]:
    shape = _field(j, "shape", list)
    if len(shape) > 32 or any(type(n) is not int or not 0 <= n < 1 << 62 for n in shape):
        raise _ProtocolError("an array shape that is not a list of sizes")
    return tuple(shape)


def _pd_tz(pd: Any, unit: str, tz: Any) -> Any:
    if type(tz) is not str or not _TZ_RE.match(tz) or ".." in tz or tz.startswith("/"):
        raise _ProtocolError("a time zone that is not a name")
    return pd.api.types.pandas_dtype(f"datetime64[{unit}, {tz}]").tz


def _trusted_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return [d.rstrip(os.sep) + os.sep for d in dirs]


def _trusted_import(name: str) -> types.ModuleType:
    """Import ``name`` only if already imported or installed with Python, never from the working
    directory (where the learner's code may have written files the checker can see)."""
    mod = sys.modules.get(name)
    if isinstance(mod, types.ModuleType):
        return mod
    top = name.partition(".")[0]
    if top in _NO_IMPORT:
        raise ImportError(name)
    if top not in sys.modules:
        spec = importlib.util.find_spec(top)
        if spec is None:
            raise ImportError(name)
        if spec.origin not in ("built-in", "frozen"):
            places = list(spec.submodule_search_locations or []) + ([spec.origin] if spec.origin else [])
            trusted = _trusted_dirs()
            if not places or not all(
                any(os.path.realpath(p).startswith(d) for d in trusted) for p in places
            ):
                raise ImportError(f"{name} is not an installed module")
    return importlib.import_module(name)


def _is_mutable(v: Any) -> bool:
    if isinstance(v, (list, dict, set, bytearray, collections.deque)):
        return True
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if np is not None and isinstance(v, np.ndarray):
        return True
    return pd is not None and isinstance(v, (pd.Series, pd.DataFrame))


def _copy_into(target: Any, new: Any) -> None:
    """Give ``target`` the state of ``new`` in place (best effort; see the module docstring)."""
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    try:
        if isinstance(target, list) and isinstance(new, list):
            target[:] = new
        elif isinstance(target, dict) and isinstance(new, dict):
            target.clear()
            target.update(new)
        elif isinstance(target, set) and isinstance(new, (set, frozenset)):
            target.clear()
            target.update(new)
        elif isinstance(target, bytearray) and isinstance(new, (bytes, bytearray)):
            target[:] = new
        elif isinstance(target, collections.deque) and isinstance(new, collections.deque):
            target.clear()
            target.extend(new)
        elif np is not None and isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
            if target.shape == new.shape and target.dtype == new.dtype:
                target[...] = new
        elif pd is not None and (
            (isinstance(target, pd.DataFrame) and isinstance(new, pd.DataFrame))
            or (isinstance(target, pd.Series) and isinstance(new, pd.Series))
        ):
            target._update_inplace(new)
    except Exception:
        pass  # best effort: the call's result still stands


# ------------------------------------------------------------------------------------------ endpoint


class _Endpoint:
    """What both sides share: the codec, the object table, requests and serving."""

    _role = ""

    def __init__(self, sock: socket.socket | int, *, max_frame: int, max_depth: int) -> None:
        self._owns = isinstance(sock, int)
        self._sock = socket.socket(fileno=sock) if isinstance(sock, int) else sock
        self._max_frame, self._max_depth = int(max_frame), int(max_depth)
        # a value level is at most four JSON levels (dict -> list of pairs -> pair -> value) + envelope
        self._conn = _Conn(self._sock, self._max_frame, 4 * self._max_depth + 16)
        self._objects: dict[int, Any] = {}  # exported: learner objects, or checker callables
        self._ids: dict[int, int] = {}  # id(obj) -> handle, so one object keeps one handle
        self._next = 1
        self._pending: list[int] = []  # our requests awaiting a reply, innermost last
        self._serving: list[int] = []  # their requests we are answering, innermost last
        self._namedtuples: dict[tuple[str, tuple[str, ...]], type] = {}
        self._broken: str | None = None
        self._sending = False

    # ------------------------------------------------------------------ objects

    def _export(self, obj: Any) -> int:
        hid = self._ids.get(id(obj))
        if hid is not None and self._objects.get(hid) is obj:
            return hid
        if len(self._objects) >= MAX_HANDLES:
            raise RuntimeError(f"credkit: more than {MAX_HANDLES} objects crossed between the kernels")
        hid = self._next
        self._next += 1
        self._objects[hid] = obj
        self._ids[id(obj)] = hid
        return hid

    def _release(self, hids: Any) -> None:
        if type(hids) is not list:
            return
        for hid in hids:
            obj = self._objects.pop(hid, _MISSING) if type(hid) is int else _MISSING
            if obj is not _MISSING and self._ids.get(id(obj)) == hid:
                del self._ids[id(obj)]

    # ------------------------------------------------------------------ encoding

    def _enc(self, x: Any, depth: int, b: _Budget) -> Any:
        t = type(x)
        if x is None or t is bool:
            return x
        if t is str:
            b.add(len(x))
            return x
        if t is int:
            b.add()
            if -_BIG < x < _BIG:
                return x
            text = format(x, "x")
            if len(text) > _MAX_HEX:
                raise _TooLarge(self._max_frame)
            return {"$": "int", "hex": text}
        if t is float:
            b.add()
            return x if math.isfinite(x) else {"$": "float", "v": repr(x)}
        depth += 1
        if depth > self._max_depth:
            raise ValueError(f"credkit: the value is nested deeper than {self._max_depth} levels")
        b.add()
        try:
            return self._enc_value(x, depth, b)
        except _Unsupported:
            return self._enc_other(x, depth, b)

    def _enc_other(self, x: Any, depth: int, b: _Budget) -> Any:
        raise NotImplementedError

    def _enc_value(self, x: Any, depth: int, b: _Budget) -> Any:
        e = self._enc
        np = sys.modules.get("numpy")
        if np is not None and isinstance(x, (np.ndarray, np.generic, np.dtype)):
            return self._enc_numpy(np, x, depth, b)
        pd = sys.modules.get("pandas")
        if pd is not None and np is not None:
            r = self._enc_pandas(pd, np, x, depth, b)
            if r is not None:
                return r
        if isinstance(x, str):
            return e(str.__str__(x), depth, b)
        if isinstance(x, int):
            return e(int.__int__(x), depth, b)
        if isinstance(x, float):
            return e(float.__float__(x), depth, b)
        if isinstance(x, complex):
            c = complex(x)
            return {"$": "complex", "re": e(float(c.real), depth, b), "im": e(float(c.imag), depth, b)}
        if isinstance(x, tuple):
            fields = getattr(type(x), "_fields", None)
            values = [e(v, depth, b) for v in tuple.__iter__(x)]
            if type(fields) is tuple and len(fields) == len(values) and all(type(f) is str for f in fields):
                name = getattr(type(x), "__name__", "")
                return {"$": "namedtuple", "name": name if type(name) is str else "", "fields": list(fields), "v": values}
            return {"$": "tuple", "v": values}
        if isinstance(x, list):
            return {"$": "list", "v": [e(v, depth, b) for v in x]}
        if isinstance(x, dict):
            items = [[e(k, depth, b), e(v, depth, b)] for k, v in x.items()]
            if isinstance(x, collections.Counter):
                return {"$": "Counter", "v": items}
            if isinstance(x, collections.OrderedDict):
                return {"$": "OrderedDict", "v": items}
            if isinstance(x, collections.defaultdict):
                f = x.default_factory
                name = _builtin_name(f) if isinstance(f, type) else None
                return {"$": "defaultdict", "factory": name if name in _FACTORIES else None, "v": items}
            return {"$": "dict", "v": items}
        if isinstance(x, collections.deque):
            return {"$": "deque", "maxlen": x.maxlen, "v": [e(v, depth, b) for v in x]}
        if isinstance(x, (set, frozenset)):
            return {"$": "frozenset" if isinstance(x, frozenset) else "set", "v": [e(v, depth, b) for v in x]}
        if isinstance(x, (bytes, bytearray)):
            raw = bytes(x)
            b.add(len(raw) * 4 // 3)
            return {"$": "bytearray" if isinstance(x, bytearray) else "bytes", "b": _b64(raw)}
        if isinstance(x, fractions.Fraction):
            return {"$": "fraction", "n": e(int(x.numerator), depth, b), "d": e(int(x.denominator), depth, b)}
        if isinstance(x, decimal.Decimal):
            return {"$": "decimal", "v": decimal.Decimal.__str__(x)}
        if isinstance(x, datetime.datetime):
            v = [x.year, x.month, x.day, x.hour, x.minute, x.second, x.microsecond]
            return {"$": "datetime", "v": v, "fold": x.fold, "tz": self._enc_tz(x.tzinfo, x)}
        if isinstance(x, datetime.date):
            return {"$": "date", "v": [x.year, x.month, x.day]}
        if isinstance(x, datetime.time):
            v = [x.hour, x.minute, x.second, x.microsecond]
            return {"$": "time", "v": v, "fold": x.fold, "tz": self._enc_tz(x.tzinfo, None)}
        if isinstance(x, datetime.timedelta):
            return {"$": "timedelta", "v": [x.days, x.seconds, x.microseconds]}
        if isinstance(x, datetime.tzinfo):
            tz = self._enc_tz(x, None)
            if tz is None:
                raise _Unsupported
            return tz
        if isinstance(x, range):
            return {"$": "range", "v": [e(x.start, depth, b), e(x.stop, depth, b), e(x.step, depth, b)]}
        if isinstance(x, slice):
            return {"$": "slice", "v": [e(x.start, depth, b), e(x.stop, depth, b), e(x.step, depth, b)]}
        if x is Ellipsis:
            return {"$": "ellipsis"}
        if isinstance(x, type) and _builtin_name(x) is not None:
            return {"$": "builtin", "name": x.__name__}
        raise _Unsupported

    @staticmethod
    def _enc_tz(tz: Any, when: datetime.datetime | None) -> dict[str, Any] | None:
        if tz is None:
            return None
        zoneinfo = sys.modules.get("zoneinfo")
        if zoneinfo is not None and isinstance(tz, zoneinfo.ZoneInfo) and type(tz.key) is str:
            return {"$": "zoneinfo", "key": tz.key}
        off = tz.utcoffset(when)
        if off is None:
            return None
        name = tz.tzname(when)
        default = datetime.timezone(off).tzname(None)
        return {
            "$": "timezone",
            "offset": [off.days, off.seconds, off.microseconds],
            "name": name if type(name) is str and name != default else None,
        }

    def _enc_numpy(self, np: Any, x: Any, depth: int, b: _Budget) -> Any:
        if isinstance(x, np.dtype):
            s = x.str
            if x.fields is None and (s == "|O" or _DTYPE_RE.match(s)):
                return {"$": "npdtype", "v": s}
            raise _Unsupported
        if isinstance(x, np.ndarray):
            a = np.asarray(x)  # drops any subclass
            if type(a) is not np.ndarray:
                a = a.view(np.ndarray)
            dt = a.dtype
            if dt.fields is None and dt.str == "|O":
                return {"$": "objarray", "shape": list(a.shape), "v": [self._enc(v, depth, b) for v in a.ravel()]}
            if dt.fields is not None or dt.itemsize == 0 or not _DTYPE_RE.match(dt.str):
                raise _Unsupported
            b.add(a.nbytes * 4 // 3)
            return {"$": "ndarray", "dtype": dt.str, "shape": [int(n) for n in a.shape], "b": _b64(a.tobytes())}
        dt = x.dtype
        if dt.fields is not None or dt.itemsize == 0 or not _DTYPE_RE.match(dt.str):
            raise _Unsupported
        return {"$": "npscalar", "dtype": dt.str, "b": _b64(x.tobytes())}

    def _enc_pandas(self, pd: Any, np: Any, x: Any, depth: int, b: _Budget) -> Any:
        e = self._enc
        if x is pd.NaT:
            return {"$": "pdnat"}
        if x is pd.NA:
            return {"$": "pdna"}
        if isinstance(x, pd.Timestamp):
            tz = None if x.tz is None else str(x.tz)
            return {"$": "pdts", "v": int(x.asm8.view("i8")), "unit": x.unit, "tz": tz}
        if isinstance(x, pd.Timedelta):
            return {"$": "pdtd", "v": int(x.asm8.view("i8")), "unit": x.unit}
        if isinstance(x, pd.Period):
            return {"$": "pdperiod", "ordinal": int(x.ordinal), "freq": x.freqstr}
        if isinstance(x, pd.RangeIndex):
            return {"$": "pdrange", "v": [int(x.start), int(x.stop), int(x.step)], "name": e(x.name, depth, b)}
        if isinstance(x, pd.MultiIndex):
            return {
                "$": "pdmulti",
                "levels": [e(level, depth, b) for level in x.levels],
                "codes": [e(np.asarray(c), depth, b) for c in x.codes],
                "names": [e(n, depth, b) for n in x.names],
            }
        if isinstance(x, pd.Index):
            out = {"$": "pdindex", "v": self._enc_column(pd, np, x, depth, b), "name": e(x.name, depth, b)}
            if isinstance(x, (pd.DatetimeIndex, pd.TimedeltaIndex)) and type(x.freqstr) is str:
                out["freq"] = x.freqstr  # assert_series_equal compares it
            return out
        if isinstance(x, pd.Series):
            return {
                "$": "series",
                "v": self._enc_column(pd, np, x, depth, b),
                "index": e(x.index, depth, b),
                "name": e(x.name, depth, b),
            }
        if isinstance(x, pd.DataFrame):
            return {
                "$": "dataframe",
                "index": e(x.index, depth, b),
                "columns": e(x.columns, depth, b),
                "v": [self._enc_column(pd, np, x.iloc[:, i], depth, b) for i in range(x.shape[1])],
            }
        return None

    def _enc_column(self, pd: Any, np: Any, s: Any, depth: int, b: _Budget) -> dict[str, Any]:
        """The values of a Series or Index, with what rebuilds their dtype."""
        e = self._enc
        dt = s.dtype
        if isinstance(dt, np.dtype):
            return {"kind": "np", "v": e(np.asarray(s.to_numpy()), depth, b)}
        if isinstance(dt, pd.CategoricalDtype):
            codes = np.asarray(s.array.codes)
            return {"kind": "category", "categories": e(dt.categories, depth, b), "ordered": bool(dt.ordered),
                    "codes": e(codes, depth, b)}
        if isinstance(dt, pd.DatetimeTZDtype):
            utc = np.asarray(s.array.tz_convert("UTC").tz_localize(None))
            return {"kind": "datetimetz", "tz": str(dt.tz), "v": e(utc, depth, b)}
        if isinstance(dt, pd.StringDtype):
            values = [e(v if isinstance(v, str) else None, depth, b) for v in s.array]
            na = "NA" if dt.na_value is pd.NA else "nan"
            return {"kind": "string", "storage": str(dt.storage), "na": na, "v": values}
        name = str(dt)
        if _EXT_RE.match(name):
            return {"kind": "ext", "dtype": name, "v": [e(v, depth, b) for v in s.array]}
        raise _Unsupported

    # ------------------------------------------------------------------ decoding

    def _dec_value(self, j: Any) -> Any:
        """Rebuild a value; anything malformed is a protocol error, never an exception of ours."""
        try:
            return self._dec(j, 0)
        except _ProtocolError:
            raise
        except RecursionError:
            raise _ProtocolError("a value nested too deeply") from None
        except Exception as exc:
            raise _ProtocolError(f"a value that does not decode ({type(exc).__name__}: {str(exc)[:200]})") from None

    def _dec(self, j: Any, depth: int) -> Any:
        t = type(j)
        if j is None or t is bool or t is str or t is int or t is float:
            return j
        if t is not dict:
            raise _ProtocolError("a bare JSON array where a value was expected")
        depth += 1
        if depth > self._max_depth:
            raise _ProtocolError(f"a value nested deeper than {self._max_depth} levels")
        tag = j.get("$")
        fn = _DECODERS.get(tag) if type(tag) is str else None
        if fn is None:
            raise _ProtocolError(f"an unknown value tag {str(tag)[:40]!r}")
        return fn(self, j, depth)

    def _seq(self, j: dict[str, Any], depth: int) -> list[Any]:
        return [self._dec(v, depth) for v in _field(j, "v", list)]

    def _pairs(self, j: dict[str, Any], depth: int) -> list[tuple[Any, Any]]:
        out = []
        for pair in _field(j, "v", list):
            if type(pair) is not list or len(pair) != 2:
                raise _ProtocolError("a mapping item that is not a pair")
            out.append((self._dec(pair[0], depth), self._dec(pair[1], depth)))
        return out

    def _d_list(self, j: dict[str, Any], depth: int) -> Any:
        return self._seq(j, depth)

    def _d_tuple(self, j: dict[str, Any], depth: int) -> Any:
        return tuple(self._seq(j, depth))

    def _d_set(self, j: dict[str, Any], depth: int) -> Any:
        return set(self._seq(j, depth))

    def _d_frozenset(self, j: dict[str, Any], depth: int) -> Any:
        return frozenset(self._seq(j, depth))

    def _d_dict(self, j: dict[str, Any], depth: int) -> Any:
        return dict(self._pairs(j, depth))

    def _d_Counter(self, j: dict[str, Any], depth: int) -> Any:
        c: collections.Counter[Any] = collections.Counter()
        for k, v in self._pairs(j, depth):
            c[k] = v
        return c

    def _d_OrderedDict(self, j: dict[str, Any], depth: int) -> Any:
        return collections.OrderedDict(self._pairs(j, depth))

    def _d_defaultdict(self, j: dict[str, Any], depth: int) -> Any:
        name = _opt_str(j, "factory")
        if name is not None and name not in _FACTORIES:
            raise _ProtocolError("a defaultdict factory that is not a builtin type")
        return collections.defaultdict(None if name is None else getattr(builtins, name), self._pairs(j, depth))

    def _d_deque(self, j: dict[str, Any], depth: int) -> Any:
        maxlen = j.get("maxlen")
        if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
            raise _ProtocolError("a deque maxlen that is not a size")
        return collections.deque(self._seq(j, depth), maxlen)

    def _d_namedtuple(self, j: dict[str, Any], depth: int) -> Any:
        name = _field(j, "name", str)
        fields = _field(j, "fields", list)
        values = self._seq(j, depth)
        ok = lambda s: type(s) is str and s.isidentifier() and not keyword.iskeyword(s)  # noqa: E731
        if (
            not ok(name)
            or len(fields) > _MAX_FIELDS
            or len(fields) != len(values)
            or not all(ok(f) and not f.startswith("_") for f in fields)
            or len(set(fields)) != len(fields)
        ):
            raise _ProtocolError("a namedtuple with names that are not identifiers")
        key = (name, tuple(fields))
        cls = self._namedtuples.get(key)
        if cls is None:
            if len(self._namedtuples) >= _MAX_NAMEDTUPLES:
                raise _ProtocolError("too many namedtuple classes")
            cls = self._namedtuples[key] = collections.namedtuple(name, fields, module="credkit_bridge")
        return cls(*values)

    def _d_bytes(self, j: dict[str, Any], depth: int) -> Any:
        return _unb64(j.get("b"))

    def _d_bytearray(self, j: dict[str, Any], depth: int) -> Any:
        return bytearray(_unb64(j.get("b")))

    def _d_complex(self, j: dict[str, Any], depth: int) -> Any:
        re_, im = self._dec(j.get("re"), depth), self._dec(j.get("im"), depth)
        if type(re_) is not float or type(im) is not float:
            raise _ProtocolError("a complex number whose parts are not floats")
        return complex(re_, im)

    def _d_float(self, j: dict[str, Any], depth: int) -> Any:
        v = j.get("v")
        if v not in ("nan", "inf", "-inf"):
            raise _ProtocolError("a non-finite float that is not nan or inf")
        return float(v)

    def _d_int(self, j: dict[str, Any], depth: int) -> Any:
        h = j.get("hex")
        if type(h) is not str or not _HEX_RE.match(h):
            raise _ProtocolError("a big integer that is not hex")
        return int(h, 16)

    def _d_fraction(self, j: dict[str, Any], depth: int) -> Any:
        n, d = self._dec(j.get("n"), depth), self._dec(j.get("d"), depth)
        if type(n) is not int or type(d) is not int or d <= 0:
            raise _ProtocolError("a fraction that is not two integers")
        return fractions.Fraction(n, d)

    def _d_decimal(self, j: dict[str, Any], depth: int) -> Any:
        v = _field(j, "v", str)
        if len(v) > 10_000:
            raise _ProtocolError("a decimal too long")
        return decimal.Decimal(v)

    def _d_date(self, j: dict[str, Any], depth: int) -> Any:
        return datetime.date(*_ints(j, "v", 3))

    def _dec_tz(self, tz: Any) -> datetime.tzinfo | None:
        if tz is None:
            return None
        if type(tz) is not dict:
            raise _ProtocolError("a time zone that is not one")
        if tz.get("$") == "zoneinfo":
            return self._d_zoneinfo(tz, 0)
        if tz.get("$") == "timezone":
            return self._d_timezone(tz, 0)
        raise _ProtocolError("a time zone that is not one")

    def _d_datetime(self, j: dict[str, Any], depth: int) -> Any:
        fold = j.get("fold", 0)
        if fold not in (0, 1) or type(fold) is not int:
            raise _ProtocolError("a fold that is not 0 or 1")
        return datetime.datetime(*_ints(j, "v", 7), tzinfo=self._dec_tz(j.get("tz")), fold=fold)

    def _d_time(self, j: dict[str, Any], depth: int) -> Any:
        fold = j.get("fold", 0)
        if fold not in (0, 1) or type(fold) is not int:
            raise _ProtocolError("a fold that is not 0 or 1")
        return datetime.time(*_ints(j, "v", 4), tzinfo=self._dec_tz(j.get("tz")), fold=fold)

    def _d_timedelta(self, j: dict[str, Any], depth: int) -> Any:
        d, s, us = _ints(j, "v", 3)
        return datetime.timedelta(days=d, seconds=s, microseconds=us)

    def _d_timezone(self, j: dict[str, Any], depth: int) -> Any:
        d, s, us = _ints(j, "offset", 3)
        off = datetime.timedelta(days=d, seconds=s, microseconds=us)
        name = _opt_str(j, "name")
        if name is None:
            return datetime.timezone.utc if not off else datetime.timezone(off)
        return datetime.timezone(off, name[:100])

    def _d_zoneinfo(self, j: dict[str, Any], depth: int) -> Any:
        key = _field(j, "key", str)
        if not _TZ_RE.match(key) or ".." in key or key.startswith("/"):
            raise _ProtocolError("a time zone key that is not a name")
        import zoneinfo

        return zoneinfo.ZoneInfo(key)

    def _d_range(self, j: dict[str, Any], depth: int) -> Any:
        v = self._seq(j, depth)
        if len(v) != 3 or any(type(n) is not int for n in v):
            raise _ProtocolError("a range that is not three integers")
        return range(*v)

    def _d_slice(self, j: dict[str, Any], depth: int) -> Any:
        v = self._seq(j, depth)
        if len(v) != 3:
            raise _ProtocolError("a slice that is not three values")
        return slice(*v)

    def _d_ellipsis(self, j: dict[str, Any], depth: int) -> Any:
        return Ellipsis

    def _d_builtin(self, j: dict[str, Any], depth: int) -> Any:
        obj = getattr(builtins, _field(j, "name", str), None)
        if not isinstance(obj, type):
            raise _ProtocolError("a builtin that is not a builtin type")
        return obj

    # numpy

    def _d_ndarray(self, j: dict[str, Any], depth: int) -> Any:
        np = _numpy()
        dt = _np_dtype(np, j.get("dtype"))
        shape = _shape(j)
        raw = _unb64(j.get("b"))
        if math.prod(shape) * dt.itemsize != len(raw):
            raise _ProtocolError("array bytes that do not match its shape")
        return np.frombuffer(bytearray(raw), dtype=dt).reshape(shape)  # bytearray: writable

    def _d_objarray(self, j: dict[str, Any], depth: int) -> Any:
        np = _numpy()
        shape = _shape(j)
        values = self._seq(j, depth)
        if math.prod(shape) != len(values):
            raise _ProtocolError("array elements that do not match its shape")
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = v
        return out.reshape(shape)

    def _d_npscalar(self, j: dict[str, Any], depth: int) -> Any:
        np = _numpy()
        dt = _np_dtype(np, j.get("dtype"))
        raw = _unb64(j.get("b"))
        if len(raw) != dt.itemsize:
            raise _ProtocolError("numpy scalar bytes that do not match its dtype")
        return np.frombuffer(raw, dtype=dt)[0]

    def _d_npdtype(self, j: dict[str, Any], depth: int) -> Any:
        return _np_dtype(_numpy(), j.get("v"), allow_object=True)

    # pandas

    def _d_pdnat(self, j: dict[str, Any], depth: int) -> Any:
        return _pandas().NaT

    def _d_pdna(self, j: dict[str, Any], depth: int) -> Any:
        return _pandas().NA

    def _d_pdts(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        unit = _field(j, "unit", str)
        if not _UNIT_RE.match(unit):
            raise _ProtocolError("a time unit that is not one")
        ts = pd.Timestamp(np.datetime64(_field(j, "v", int), unit))
        tz = j.get("tz")
        return ts if tz is None else ts.tz_localize("UTC").tz_convert(_pd_tz(pd, unit, tz))

    def _d_pdtd(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        unit = _field(j, "unit", str)
        if not _UNIT_RE.match(unit):
            raise _ProtocolError("a time unit that is not one")
        return pd.Timedelta(np.timedelta64(_field(j, "v", int), unit))

    def _d_pdperiod(self, j: dict[str, Any], depth: int) -> Any:
        freq = _field(j, "freq", str)
        if not _FREQ_RE.match(freq):
            raise _ProtocolError("a period frequency that is not one")
        return _pandas().Period(ordinal=_field(j, "ordinal", int), freq=freq)

    def _d_pdrange(self, j: dict[str, Any], depth: int) -> Any:
        start, stop, step = _ints(j, "v", 3)
        return _pandas().RangeIndex(start, stop, step, name=self._dec(j.get("name"), depth))

    def _d_pdmulti(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        levels = [self._dec(v, depth) for v in _field(j, "levels", list)]
        codes = [self._dec(v, depth) for v in _field(j, "codes", list)]
        names = [self._dec(v, depth) for v in _field(j, "names", list)]
        if not all(isinstance(v, pd.Index) for v in levels) or not all(
            isinstance(c, np.ndarray) and c.dtype.kind == "i" for c in codes
        ):
            raise _ProtocolError("a MultiIndex that is not levels and codes")
        return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=True)

    def _dec_column(self, c: Any, depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        if type(c) is not dict:
            raise _ProtocolError("column values that are not an object")
        kind = c.get("kind")
        if kind == "np":
            a = self._dec(c.get("v"), depth)
            if not isinstance(a, np.ndarray) or a.ndim != 1:
                raise _ProtocolError("column values that are not a 1-d array")
            return a
        if kind == "category":
            cats = self._dec(c.get("categories"), depth)
            codes = self._dec(c.get("codes"), depth)
            if not isinstance(cats, pd.Index) or not isinstance(codes, np.ndarray) or codes.dtype.kind != "i":
                raise _ProtocolError("categorical values that are not categories and codes")
            dtype = pd.CategoricalDtype(cats, ordered=_field(c, "ordered", bool))
            return pd.Categorical.from_codes(codes, dtype=dtype)
        if kind == "datetimetz":
            a = self._dec(c.get("v"), depth)
            if not isinstance(a, np.ndarray) or a.dtype.kind != "M" or a.ndim != 1:
                raise _ProtocolError("datetime values that are not datetime64")
            unit = np.datetime_data(a.dtype)[0]
            if not _UNIT_RE.match(unit):
                raise _ProtocolError("a time unit that is not one")
            return pd.DatetimeIndex(a).tz_localize("UTC").tz_convert(_pd_tz(pd, unit, c.get("tz"))).array
        if kind == "string":
            storage, na = c.get("storage"), c.get("na")
            values = self._seq(c, depth)
            if storage not in ("python", "pyarrow") or na not in ("nan", "NA"):
                raise _ProtocolError("a string dtype that is not one")
            if any(v is not None and type(v) is not str for v in values):
                raise _ProtocolError("string values that are not text")
            if storage == "pyarrow" and importlib.util.find_spec("pyarrow") is None:
                storage = "python"
            dtype = pd.StringDtype(storage=storage, na_value=np.nan if na == "nan" else pd.NA)
            return pd.array(values, dtype=dtype)
        if kind == "ext":
            name = _field(c, "dtype", str)
            if not _EXT_RE.match(name):
                raise _ProtocolError("an extension dtype that does not cross")
            return pd.array(self._seq(c, depth), dtype=pd.api.types.pandas_dtype(name))
        raise _ProtocolError("column values of an unknown kind")

    def _d_pdindex(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        values = self._dec_column(j.get("v"), depth)
        obj = isinstance(values, np.ndarray) and values.dtype == object
        index = pd.Index(values, dtype=object if obj else None, name=self._dec(j.get("name"), depth))
        freq = _opt_str(j, "freq")
        if freq is not None:
            if not _FREQ_RE.match(freq) or not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
                raise _ProtocolError("an index frequency that is not one")
            index = type(index)(index, freq=freq)
        return index

    def _d_series(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        values = self._dec_column(j.get("v"), depth)
        index = self._dec(j.get("index"), depth)
        if not isinstance(index, pd.Index) or len(index) != len(values):
            raise _ProtocolError("a Series whose index does not fit")
        obj = isinstance(values, np.ndarray) and values.dtype == object
        return pd.Series(values, index=index, name=self._dec(j.get("name"), depth), dtype=object if obj else None)

    def _d_dataframe(self, j: dict[str, Any], depth: int) -> Any:
        pd, np = _pandas(), _numpy()
        index = self._dec(j.get("index"), depth)
        columns = self._dec(j.get("columns"), depth)
        cols = [self._dec_column(c, depth) for c in _field(j, "v", list)]
        if not isinstance(index, pd.Index) or not isinstance(columns, pd.Index) or len(columns) != len(cols):
            raise _ProtocolError("a DataFrame whose axes do not fit")
        if any(len(c) != len(index) for c in cols):
            raise _ProtocolError("a DataFrame column whose length does not fit")
        n = len(index)
        data = {}
        for i, values in enumerate(cols):
            obj = isinstance(values, np.ndarray) and values.dtype == object
            data[i] = pd.Series(values, index=pd.RangeIndex(n), dtype=object if obj else None)
        df = pd.DataFrame(data) if data else pd.DataFrame(index=pd.RangeIndex(n))
        df.index = index
        df.columns = columns
        return df

    # references: each side accepts only its own kinds

    def _d_handle(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a learner handle sent to the learner")

    def _d_module(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a module where none was expected")

    def _d_cbref(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a checker function reference sent to the checker's learner")

    def _d_ref(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a learner object reference sent to the checker")

    def _d_callback(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a checker function sent to the checker")

    def _d_sqlite(self, j: dict[str, Any], depth: int) -> Any:
        raise _ProtocolError("a database sent to the checker")

    # ------------------------------------------------------------------ requests

    def _message(self, op: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Encode a request (TypeError/ValueError here means nothing was sent)."""
        b = _Budget(self._max_frame)
        msg: dict[str, Any] = {"id": secrets.randbits(63) or 1, "op": op}
        for key, v in fields.items():
            if key in ("handle", "name", "spec"):
                msg[key] = v
            elif key == "args":
                msg["args"] = [self._enc(a, 0, b) for a in v]
            elif key == "kwargs":
                msg["kwargs"] = [[str(k), self._enc(a, 0, b)] for k, a in v.items()]
            else:
                msg[key] = self._enc(v, 0, b)
        return msg

    def _send(self, msg: dict[str, Any], timeout: float | None) -> None:
        frame = self._conn.pack(msg)
        self._sending = True
        try:
            self._conn.send(frame, timeout)
        except BaseException:
            # a partly sent frame leaves the stream unusable
            self._break("the bridge failed while sending")
            raise
        finally:
            self._sending = False
        self._after_send()

    def _after_send(self) -> None:
        pass

    def _break(self, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _wait(self, rid: int, deadline: float | None) -> dict[str, Any]:
        """Wait for the reply to ``rid``, answering the other side's requests meanwhile."""
        while True:
            msg = self._conn.recv(deadline)
            if type(msg) is not dict or type(msg.get("id")) is not int:
                raise _ProtocolError("a frame that is not a message")
            if "op" in msg:
                self._serve_one(msg)
            elif msg["id"] == rid:
                return msg
            # else: a late reply to a request that was given up on

    def _serve_one(self, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    def _finish(self, reply: dict[str, Any], args: Any, kwargs: Any) -> tuple[Any, BaseException | None]:
        """Check a reply, apply copy-back, write its output; the value or the exception to raise."""
        out, err = reply.get("stdout", ""), reply.get("stderr", "")
        if type(out) is not str or type(err) is not str:
            raise _ProtocolError("reply output that is not text")
        value: Any = None
        exc: BaseException | None = None
        if "error" in reply:
            exc = _exception(reply["error"])
        elif "ok" in reply:
            value = self._dec_value(reply["ok"])
        else:
            raise _ProtocolError("a reply with neither a value nor an error")
        entries = reply.get("copyback")
        if entries is not None:
            if type(entries) is not list:
                raise _ProtocolError("copy-back that is not a list")
            args, kwargs = list(args or ()), dict(kwargs or {})
            for entry in entries:
                if type(entry) is not list or len(entry) != 2:
                    raise _ProtocolError("a copy-back entry that is not a pair")
                key, enc = entry
                if type(key) is int and 0 <= key < len(args):
                    target = args[key]
                elif type(key) is str and key in kwargs:
                    target = kwargs[key]
                else:
                    raise _ProtocolError("a copy-back entry for no argument")
                _copy_into(target, self._dec_value(enc))
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)
        return value, exc

    def _call_with_copyback(self, fn: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, list[Any]]:
        """Call ``fn``; report the by-value mutable arguments whose state it changed."""
        before: dict[int | str, str] = {}
        for key, v in [*enumerate(args), *kwargs.items()]:
            if _is_mutable(v):
                try:
                    before[key] = json.dumps(self._enc(v, 0, _Budget(self._max_frame)))
                except Exception:
                    pass
        result = fn(*args, **kwargs)
        entries = []
        for key, snapshot in before.items():
            v = args[key] if type(key) is int else kwargs[key]
            try:
                after = self._enc(v, 0, _Budget(self._max_frame))
                if json.dumps(after) != snapshot:
                    entries.append([key, after])
            except Exception:
                pass  # an argument that no longer encodes is not copied back
        return result, entries

    def _decode_call(self, msg: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        args = [self._dec_value(a) for a in _field(msg, "args", list)] if "args" in msg else []
        kwargs: dict[str, Any] = {}
        for pair in msg.get("kwargs") or []:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise _ProtocolError("a keyword argument that is not a name and a value")
            kwargs[pair[0]] = self._dec_value(pair[1])
        return args, kwargs

    def _reply(self, reply: dict[str, Any], timeout: float | None) -> None:
        try:
            self._send(reply, timeout)
        except _TooLarge as exc:
            small = {"id": reply["id"], "error": _error_info(exc), "stdout": "", "stderr": ""}
            self._send(small, timeout)


_DECODERS: dict[str, Callable[[_Endpoint, dict[str, Any], int], Any]] = {
    name[3:]: getattr(_Endpoint, name) for name in dir(_Endpoint) if name.startswith("_d_")
}
# the subclasses override the reference decoders; look them up on the instance
for _tag in ("handle", "module", "cbref", "ref", "callback", "sqlite"):
    _DECODERS[_tag] = (lambda t: lambda self, j, depth: getattr(self, "_d_" + t)(j, depth))(_tag)


# ------------------------------------------------------------------------------------- checker side


class Bridge(_Endpoint):
    """The checker kernel's end of the bridge (one per checker kernel, not thread-safe).

    ``request(op, **fields)`` sends one request and waits for its reply, answering the learner's
    calls of checker functions meanwhile. ``reply_timeout`` bounds the wait; on timeout or a
    KeyboardInterrupt it calls ``interrupt()`` (meant to SIGINT the learner's kernel), waits up to
    ``grace`` seconds for the reply, drops it, and raises. A learner that closes the socket, breaks
    the protocol or does not stop when interrupted breaks the bridge: every later request raises
    :class:`BridgeBroken` at once.
    """

    _role = "checker"

    def __init__(
        self,
        sock: socket.socket | int,
        *,
        max_frame: int = MAX_FRAME,
        max_depth: int = MAX_DEPTH,
        reply_timeout: float = 60.0,
        interrupt: Callable[[], None] | None = None,
        grace: float = 3.0,
    ) -> None:
        super().__init__(sock, max_frame=max_frame, max_depth=max_depth)
        self.reply_timeout = float(reply_timeout)
        self._interrupt = interrupt
        self._grace = float(grace)
        self._remotes: weakref.WeakValueDictionary[int, Remote] = weakref.WeakValueDictionary()
        self._released: set[int] = set()
        # one conversation at a time on the socket; re-entrant for checker functions the learner calls
        self._lock = threading.RLock()
        self.generation = 0  # counts requests that may run learner code (all but names and get)

    @property
    def broken(self) -> str | None:
        """Why the bridge is broken, or None."""
        return self._broken

    def request(self, op: str, **fields: Any) -> Any:
        """Run ``op`` in the learner's kernel; its value, or raise its error as a builtin exception."""
        __tracebackhide__ = True
        with self._lock:
            return self._request(op, fields)

    def _request(self, op: str, fields: dict[str, Any]) -> Any:
        __tracebackhide__ = True
        if self._broken is not None:
            raise BridgeBroken(self._broken)
        if op not in ("names", "get"):
            self.generation += 1
        msg = self._message(op, fields)
        if self._released:
            released, self._released = self._released, set()
            msg["release"] = sorted(released)
        try:
            reply = self._roundtrip(msg)
            value, exc = self._finish(reply, fields.get("args"), fields.get("kwargs"))
        except _Closed as e:
            self._break(f"the learner's kernel stopped answering ({e})")
            raise BridgeBroken(self._broken) from None
        except _ProtocolError as e:
            self._break(f"the learner's kernel broke the bridge protocol ({e})")
            raise BridgeBroken(self._broken) from None
        if exc is not None:
            exc.__cause__, exc.__suppress_context__ = None, True
            _raise_learner_error(exc)
        return value

    def names(self) -> frozenset[str]:
        """The global names of the learner's namespace."""
        __tracebackhide__ = True
        names = self.request("names")
        if type(names) is not list or any(type(n) is not str for n in names):
            self._break("the learner's kernel broke the bridge protocol (names that are not text)")
            raise BridgeBroken(self._broken)
        return frozenset(names)

    def get(self, name: str) -> Any:
        """The value of the learner's global ``name`` (NameError if it has none)."""
        __tracebackhide__ = True
        return self.request("get", name=name)

    def end(self) -> None:
        """Tell the learner to stop serving, then close the bridge and its socket."""
        if self._broken is None:
            try:
                self.request("end")
            except Exception:
                pass
        self._break("the bridge was closed")
        self._sock.close()

    close = end

    def _roundtrip(self, msg: dict[str, Any]) -> dict[str, Any]:
        __tracebackhide__ = True
        rid = msg["id"]
        deadline = time.monotonic() + self.reply_timeout
        self._send(msg, self.reply_timeout)
        self._pending.append(rid)
        try:
            try:
                return self._wait(rid, deadline)
            except _Timeout:
                self._stop_learner(rid)
                raise TimeoutError(f"the learner's code did not return within {self.reply_timeout:g} s") from None
            except KeyboardInterrupt:
                self._stop_learner(rid)
                raise
        finally:
            self._pending.pop()

    def _stop_learner(self, rid: int) -> None:
        """Interrupt the learner and drain its (dropped) reply; no reply in time breaks the bridge."""
        if self._interrupt is not None:
            try:
                self._interrupt()
            except Exception:
                pass
        try:
            self._wait(rid, time.monotonic() + self._grace)
        except _Timeout:
            self._break(f"the learner's kernel stopped answering (nothing within {self._grace:g} s of an interrupt)")
        except KeyboardInterrupt:
            self._break("the learner's kernel stopped answering (interrupted while stopping it)")

    def _serve_one(self, msg: dict[str, Any]) -> None:
        """Answer a learner's call of a checker function it was given (the only request it may make)."""
        rid = msg["id"]
        fn = self._objects.get(msg.get("handle"), _MISSING) if type(msg.get("handle")) is int else _MISSING
        if msg.get("op") != "call" or msg.get("ctx") not in self._pending or fn is _MISSING:
            info = {"type": "RuntimeError", "message": "credkit: the checker only runs the functions it passed, while it waits"}
            self._reply({"id": rid, "error": info, "stdout": "", "stderr": ""}, self.reply_timeout)
            return
        args, kwargs = self._decode_call(msg)  # a malformed value breaks the bridge
        reply: dict[str, Any] = {"id": rid, "stdout": "", "stderr": ""}
        raised: BaseException | None = None
        self._serving.append(rid)
        try:
            result, entries = self._call_with_copyback(fn, args, kwargs)
            reply["ok"] = self._enc(result, 0, _Budget(self._max_frame))
            if entries:
                reply["copyback"] = entries
        except BaseException as exc:
            reply.pop("ok", None)
            reply["error"] = _error_info(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raised = exc
        finally:
            self._serving.pop()
        self._reply(reply, self.reply_timeout)
        if raised is not None:
            raise raised

    def _enc_other(self, x: Any, depth: int, b: _Budget) -> Any:
        if isinstance(x, Remote):
            if object.__getattribute__(x, "_bridge") is self:
                return {"$": "ref", "id": object.__getattribute__(x, "_hid")}
            raise TypeError("credkit: a remote object of another bridge cannot be passed to learner code")
        sqlite3 = sys.modules.get("sqlite3")
        if sqlite3 is not None and isinstance(x, sqlite3.Connection):
            raw = x.serialize()
            b.add(len(raw) * 4 // 3)
            return {"$": "sqlite", "b": _b64(raw)}
        if isinstance(x, types.ModuleType):
            return {"$": "module", "name": str(x.__name__)}
        if callable(x) and not (isinstance(x, types.BuiltinFunctionType) and _builtin_name(x) in _NO_CALLBACK):
            return {"$": "callback", "id": self._export(x)}
        raise TypeError(
            f"credkit: a {_qualname(type(x))} cannot be passed to learner code; "
            "only plain data and functions cross to the learner's kernel"
        )

    def _remote(self, hid: int, kind: str, type_name: str, text: str) -> Remote:
        r = self._remotes.get(hid)
        if r is None:
            r = Remote(self, hid, kind, type_name, text)
            self._remotes[hid] = r
            self._released.discard(hid)
        return r

    def _forget(self, hid: int) -> None:
        self._released.add(hid)

    def _d_handle(self, j: dict[str, Any], depth: int) -> Any:
        hid, kind = _field(j, "id", int), j.get("kind")
        if kind not in _KINDS or hid <= 0:
            raise _ProtocolError("a handle of an unknown kind")
        return self._remote(hid, kind, _field(j, "type", str)[:200], _field(j, "repr", str)[:200])

    def _d_module(self, j: dict[str, Any], depth: int) -> Any:
        name = _field(j, "name", str)
        hid = _field(j, "id", int)
        if _MODULE_RE.match(name):
            try:
                return _trusted_import(name)
            except Exception:
                pass
        return self._remote(hid, "object", "module", f"<module {name[:100]!r} of the learner's kernel>")

    def _d_cbref(self, j: dict[str, Any], depth: int) -> Any:
        fn = self._objects.get(_field(j, "id", int), _MISSING)
        if fn is _MISSING:
            raise _ProtocolError("a reference to no checker function")
        return fn


def _no_op(symbol: str) -> Callable[..., Any]:
    def op(self: Remote, *other: Any) -> Any:
        __tracebackhide__ = True
        raise TypeError(
            f"credkit: {symbol} is not computed on a {object.__getattribute__(self, '_type')} from the learner's "
            "kernel: it crossed as a remote object, not as plain data"
        )

    return op


_SLOTS = ("_bridge", "_hid", "_kind", "_type", "_text")


class Remote:
    """A learner object that crossed by reference: operations on it run in the learner's kernel,
    and their results cross by the same rule. Equality is identity and the hash is id-based, so the
    learner's ``__eq__`` never decides a comparison in the checker; arithmetic and ordering raise."""

    __slots__ = (*_SLOTS, "__weakref__")

    def __init__(self, bridge: Bridge, hid: int, kind: str, type_name: str, text: str) -> None:
        for name, value in zip(_SLOTS, (bridge, hid, kind, type_name, text)):
            object.__setattr__(self, name, value)

    def _req(self, op: str, **fields: Any) -> Any:
        __tracebackhide__ = True
        return self._bridge.request(op, handle=self._hid, **fields)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._req("call", args=args, kwargs=kwargs)

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        # dunders and IPython's _repr_*_ / _ipython_*_ hooks stay local: no learner displays
        if name in _SLOTS or (name.startswith("_") and name.endswith("_")):
            raise AttributeError(name)
        return self._req("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        __tracebackhide__ = True
        if name in _SLOTS or (name.startswith("_") and name.endswith("_")):
            raise AttributeError(f"credkit: cannot set {name!r} on a remote object")
        self._req("setattr", name=name, value=value)

    def __getitem__(self, key: Any) -> Any:
        __tracebackhide__ = True
        return self._req("getitem", key=key)

    def __setitem__(self, key: Any, value: Any) -> None:
        __tracebackhide__ = True
        self._req("setitem", key=key, value=value)

    def __delitem__(self, key: Any) -> None:
        __tracebackhide__ = True
        self._req("delitem", key=key)

    def __len__(self) -> int:
        __tracebackhide__ = True
        return self._req("len")

    def __iter__(self) -> Remote:
        __tracebackhide__ = True
        it = self._req("iter")
        if not isinstance(it, Remote):
            raise TypeError("credkit: iter() of a learner object did not give an iterator")
        return it

    def __next__(self) -> Any:
        __tracebackhide__ = True
        return self._req("next")

    def _typed(self, op: str, kind: type, what: str, **fields: Any) -> Any:
        """A request whose answer must be of exactly ``kind`` (the learner may answer anything)."""
        __tracebackhide__ = True
        r = self._req(op, **fields)
        if type(r) is not kind:
            raise TypeError(f"credkit: {what} of a learner object did not give {'a bool' if kind is bool else 'text'}")
        return r

    def __contains__(self, item: Any) -> bool:
        __tracebackhide__ = True
        return self._typed("contains", bool, "`in`", value=item)

    def __bool__(self) -> bool:
        __tracebackhide__ = True
        return self._typed("bool", bool, "bool()")

    def __str__(self) -> str:
        __tracebackhide__ = True
        return self._typed("str", str, "str()")

    def __repr__(self) -> str:
        try:
            r = self._req("repr")
            if type(r) is str:
                return r
        except Exception:
            pass
        try:
            return f"<remote {self._type}: {self._text}>"
        except Exception:
            return "<remote object>"

    def __format__(self, spec: str) -> str:
        __tracebackhide__ = True
        return self._typed("format", str, "format()", spec=str(spec))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("credkit: a remote object cannot be pickled or copied")

    def __del__(self) -> None:
        try:
            object.__getattribute__(self, "_bridge")._forget(object.__getattribute__(self, "_hid"))
        except Exception:
            pass


for _name, _symbol in {
    "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=",
    "__add__": "+", "__radd__": "+", "__sub__": "-", "__rsub__": "-", "__mul__": "*", "__rmul__": "*",
    "__matmul__": "@", "__rmatmul__": "@", "__truediv__": "/", "__rtruediv__": "/",
    "__floordiv__": "//", "__rfloordiv__": "//", "__mod__": "%", "__rmod__": "%",
    "__divmod__": "divmod()", "__rdivmod__": "divmod()", "__pow__": "**", "__rpow__": "**",
    "__lshift__": "<<", "__rlshift__": "<<", "__rshift__": ">>", "__rrshift__": ">>",
    "__and__": "&", "__rand__": "&", "__xor__": "^", "__rxor__": "^", "__or__": "|", "__ror__": "|",
    "__neg__": "unary -", "__pos__": "unary +", "__abs__": "abs()", "__invert__": "~",
    "__int__": "int()", "__float__": "float()", "__complex__": "complex()", "__index__": "an index",
    "__round__": "round()", "__trunc__": "trunc()", "__floor__": "floor()", "__ceil__": "ceil()",
}.items():
    setattr(Remote, _name, _no_op(_symbol))


def _kernel_name(name: str) -> bool:
    return name in _KERNEL_NAMES or bool(_KERNEL_NAME_RE.match(name))


class LearnerNamespace(dict):  # type: ignore[type-arg]
    """The checker kernel's user namespace: a name the test cell has not bound is read from the
    learner's globals. The learner's global names are fetched once per cell; a name outside them
    raises KeyError (so Python falls back to builtins locally). Functions, classes and modules are
    cached for the cell; plain data is read afresh each time. Call :meth:`begin_cell` before each
    cell (an IPython ``pre_run_cell`` handler). Use it as both globals and locals (IPython:
    ``user_ns=`` without ``user_module``) so functions and comprehensions of a test see it too.

    ``learner_builtins``: whether a learner's global that shadows a builtin (``def max(...)``) is
    used, as under stock nbgrader (True, the default), never (False), or only for the names given.
    A learner's ``abs = lambda x: 0`` forges ``assert abs(r - e) < tol``, so a course that does
    not ask for such names should pass False or the names its release defines.
    ``modules``: names the release binds to modules (``{"np": "numpy"}``), resolved to the
    checker's own import without asking the learner, so a learner cannot swap in a fake ``np``.
    ``cache_data``: keep plain data read from the learner until the next request that may run
    learner code (a call, an attribute read, ...), instead of reading it afresh every time; a test
    that reads a big global in a loop then costs one transfer, and sees its own changes to it.
    """

    __slots__ = ("_bridge", "_names", "_cache", "_data", "_learner_builtins", "_modules", "_cache_data", "_taken")

    def __init__(
        self,
        bridge: Bridge,
        initial: Mapping[str, Any] | None = None,
        *,
        learner_builtins: bool | Collection[str] = True,
        modules: Mapping[str, str] | None = None,
        cache_data: bool = False,
    ) -> None:
        super().__init__(initial or {})
        self._bridge = bridge
        self._names: frozenset[str] | None = None
        self._cache: dict[str, Any] = {}
        self._data: dict[str, tuple[int, Any]] = {}
        self._cache_data = cache_data
        self._learner_builtins = learner_builtins if isinstance(learner_builtins, bool) else frozenset(learner_builtins)
        self._modules = dict(modules or {})
        self._taken: set[str] = set()  # learner globals this cell deleted (it may put them back)

    def begin_cell(self, *_info: Any) -> None:
        """Forget the learner's names and cached functions (the previous cell may have changed them)."""
        self._names = None
        self._cache.clear()
        self._data.clear()
        self._taken.clear()

    def _is_learner_global(self, name: Any) -> bool:
        if type(name) is not str or _kernel_name(name) or dict.__contains__(self, name):
            return False
        if self._names is None:
            self._names = self._bridge.names()
        return name in self._names

    def __delitem__(self, name: Any) -> None:
        """``del name`` in a test cell: a learner global is deleted in the learner's kernel (a test
        that checks a function fails without a helper it should use), a test's own name here."""
        __tracebackhide__ = True
        if self._is_learner_global(name):
            self._bridge.request("delglobal", name=name)
            self._cache.pop(name, None)
            self._data.pop(name, None)
            if self._names is not None:
                self._names = self._names - {name}
            self._taken.add(name)
            return
        dict.__delitem__(self, name)

    def __setitem__(self, name: Any, value: Any) -> None:
        """Names a test cell binds stay in the checker — except a learner object put back under a
        learner global's name (``squares = saved`` after ``del squares``), which goes back to the
        learner's kernel. No test data ever crosses this way."""
        __tracebackhide__ = True
        if isinstance(value, Remote) and type(name) is str and (name in self._taken or self._is_learner_global(name)):
            self._bridge.request("setglobal", name=name, value=value)
            self._taken.discard(name)
            self._cache.pop(name, None)
            if self._names is not None:
                self._names = self._names | {name}
            dict.pop(self, name, None)
            return
        dict.__setitem__(self, name, value)

    def _builtin_kept(self, name: str) -> bool:
        allowed = self._learner_builtins
        if allowed is True or not hasattr(builtins, name):
            return False
        return allowed is False or name not in allowed  # type: ignore[operator]

    def __missing__(self, name: Any) -> Any:
        __tracebackhide__ = True
        if type(name) is not str or _kernel_name(name):
            raise KeyError(name)
        value = self._cache.get(name, _MISSING)
        if value is not _MISSING:
            return value
        data = self._data.get(name)
        if data is not None and data[0] == self._bridge.generation:
            return data[1]
        if name in self._modules:
            value = self._cache[name] = _trusted_import(self._modules[name])
            return value
        if self._builtin_kept(name):
            raise KeyError(name)
        if self._names is None:
            try:
                self._names = self._bridge.names()
            except BridgeBroken:
                if hasattr(builtins, name):
                    raise KeyError(name) from None
                raise
        if name not in self._names:
            raise KeyError(name)
        value = self._bridge.get(name)
        if isinstance(value, types.ModuleType) or (
            isinstance(value, Remote) and object.__getattribute__(value, "_kind") in ("function", "class")
        ):
            self._cache[name] = value
        elif self._cache_data:
            self._data[name] = (self._bridge.generation, value)
        return value


# ------------------------------------------------------------------------------------- learner side


class _Callback:
    """A checker function handed to learner code: it can only be called (in the checker)."""

    __slots__ = ("_endpoint", "_hid", "__weakref__")

    def __init__(self, endpoint: _Learner, hid: int) -> None:
        self._endpoint, self._hid = endpoint, hid

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._endpoint._call_checker(self._hid, args, kwargs)

    def __repr__(self) -> str:
        return "<credkit: a function of the checker>"


class _Capture:
    __slots__ = ("parts", "sizes")

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self.sizes = {"stdout": 0, "stderr": 0}

    def add(self, which: str, s: str) -> None:
        used = self.sizes[which]
        if used >= MAX_CAPTURE:
            return
        if used + len(s) > MAX_CAPTURE:
            s = s[: MAX_CAPTURE - used] + "\n[credkit: output truncated]\n"
        self.sizes[which] = used + len(s)
        self.parts[which].append(s)


class _Learner(_Endpoint):
    _role = "learner"

    def __init__(self, sock: socket.socket | int, namespace: dict[str, Any], *, max_frame: int, max_depth: int):
        super().__init__(sock, max_frame=max_frame, max_depth=max_depth)
        self._ns = namespace
        self._stop = False
        self._user = 0  # > 0 while learner code may run (an op, or encoding its result)
        self._deferred = False  # a SIGINT arrived while a frame was being sent
        self._captures: list[_Capture] = []
        self._patched: list[tuple[Any, bool, Any]] = []
        self._swapped: list[tuple[str, Any]] = []
        self._callbacks: dict[int, _Callback] = {}
        self._thread: int | None = None

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        self._thread = threading.get_ident()
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main else None
        try:
            while not self._stop:
                try:
                    msg = self._conn.recv(None)
                except (_Closed, _ProtocolError):
                    return
                except KeyboardInterrupt:
                    continue
                if type(msg) is not dict or type(msg.get("id")) is not int:
                    return
                if "op" not in msg:
                    continue  # a late reply to a call that was interrupted
                try:
                    self._serve_one(msg)
                except _Closed:
                    return
                except BaseException:
                    continue  # a second interrupt while answering; keep serving
        finally:
            if main:
                signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
            if self._stop and not self._owns:
                self._break("served to the end")
            if self._owns:
                self._sock.close()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # Interrupts stop learner code only; one that lands between calls is the checker's late
        # try to stop a call that already returned, and a frame half sent would corrupt the stream.
        if self._user > 0:
            if self._sending:
                self._deferred = True
            else:
                raise KeyboardInterrupt

    def _after_send(self) -> None:
        if self._deferred:
            self._deferred = False
            if self._user > 0:
                raise KeyboardInterrupt

    def _serve_one(self, msg: dict[str, Any]) -> None:
        rid, op = msg["id"], msg.get("op")
        self._release(msg.get("release"))
        reply: dict[str, Any] = {"id": rid}
        self._serving.append(rid)
        cap = self._capture_begin()
        self._user += 1
        try:
            try:
                value, entries = self._dispatch(op, msg)
                reply["ok"] = self._enc(value, 0, _Budget(self._max_frame))
                if entries:
                    reply["copyback"] = entries
            except BaseException as exc:
                reply.pop("ok", None)
                reply.pop("copyback", None)
                reply["error"] = _error_info(exc)
                if isinstance(exc, SystemExit):
                    self._stop = True
        finally:
            self._user -= 1
            self._serving.pop()
            out, err = self._capture_end(cap)
        reply["stdout"], reply["stderr"] = out, err
        if op == "end":
            self._stop = True
        self._reply(reply, None)

    @staticmethod
    def _global_name(msg: dict[str, Any]) -> str:
        name = msg.get("name")
        if type(name) is not str or _kernel_name(name):
            raise TypeError("credkit: not a global name of the notebook")
        return name

    def _dispatch(self, op: Any, msg: dict[str, Any]) -> tuple[Any, list[Any] | None]:
        if op == "names":
            return [k for k in list(self._ns) if type(k) is str], None
        if op == "get":
            name = msg.get("name")
            if type(name) is not str:
                raise TypeError("credkit: a name that is not text")
            try:
                return self._ns[name], None
            except KeyError:
                raise NameError(f"name {name!r} is not defined") from None
        if op == "end":
            return None, None
        if op == "delglobal":  # a test cell's `del name` of a learner global (to test a NameError)
            self._ns.pop(self._global_name(msg), None)
            return None, None
        if op == "setglobal":  # putting back what a test cell took (only learner objects cross)
            self._ns[self._global_name(msg)] = self._dec_value(msg.get("value"))
            return None, None
        hid = msg.get("handle")
        obj = self._objects.get(hid, _MISSING) if type(hid) is int else _MISSING
        if obj is _MISSING:
            raise RuntimeError(f"credkit: no object {hid!r} in the learner's kernel for {str(op)[:40]!r}")
        if op == "call":
            args, kwargs = self._decode_call(msg)
            return self._call_with_copyback(obj, args, kwargs)
        name = msg.get("name")
        if op in ("getattr", "setattr") and type(name) is not str:
            raise TypeError("credkit: an attribute name that is not text")
        if op == "getattr":
            return getattr(obj, name), None
        if op == "setattr":
            setattr(obj, name, self._dec_value(msg.get("value")))
            return None, None
        if op == "getitem":
            return obj[self._dec_value(msg.get("key"))], None
        if op == "setitem":
            obj[self._dec_value(msg.get("key"))] = self._dec_value(msg.get("value"))
            return None, None
        if op == "delitem":
            del obj[self._dec_value(msg.get("key"))]
            return None, None
        if op == "len":
            return len(obj), None
        if op == "iter":
            return iter(obj), None
        if op == "next":
            return next(obj), None
        if op == "contains":
            return self._dec_value(msg.get("value")) in obj, None
        if op == "bool":
            return bool(obj), None
        if op == "str":
            return str(obj), None
        if op == "repr":
            return repr(obj), None
        if op == "format":
            spec = msg.get("spec", "")
            return format(obj, spec if type(spec) is str else ""), None
        raise RuntimeError(f"credkit: unknown bridge operation {str(op)[:40]!r}")

    def _call_checker(self, hid: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self._serving:
            raise RuntimeError("credkit: a checker function can only be called while a test calls your code")
        if threading.get_ident() != self._thread:
            # one socket, one conversation: frames from two threads would interleave
            raise RuntimeError("credkit: a checker function can only be called from the thread the test called")
        msg = self._message("call", {"handle": hid, "args": args, "kwargs": kwargs})
        msg["ctx"] = self._serving[-1]
        self._send(msg, None)
        self._pending.append(msg["id"])
        try:
            reply = self._wait(msg["id"], None)
        finally:
            self._pending.pop()
        value, exc = self._finish(reply, args, kwargs)
        if exc is not None:
            raise exc
        return value

    # ------------------------------------------------------------------ codec, learner's kinds

    def _enc_other(self, x: Any, depth: int, b: _Budget) -> Any:
        if isinstance(x, _Callback) and x._endpoint is self:
            return {"$": "cbref", "id": x._hid}
        if isinstance(x, types.ModuleType):
            name = getattr(x, "__name__", "")
            return {"$": "module", "name": name if type(name) is str else "", "id": self._export(x)}
        if isinstance(x, type):
            kind = "class"
        elif hasattr(type(x), "__next__"):
            kind = "iterator"
        elif callable(x):
            kind = "function"
        else:
            kind = "object"
        hid = self._export(x)
        return {"$": "handle", "id": hid, "kind": kind, "type": _qualname(type(x)), "repr": _short_repr(x)}

    def _d_ref(self, j: dict[str, Any], depth: int) -> Any:
        obj = self._objects.get(_field(j, "id", int), _MISSING)
        if obj is _MISSING:
            raise _ProtocolError("a reference to no learner object")
        return obj

    def _d_callback(self, j: dict[str, Any], depth: int) -> Any:
        hid = _field(j, "id", int)
        cb = self._callbacks.get(hid)
        if cb is None:
            cb = self._callbacks[hid] = _Callback(self, hid)
        return cb

    def _d_module(self, j: dict[str, Any], depth: int) -> Any:
        return importlib.import_module(_field(j, "name", str))

    def _d_sqlite(self, j: dict[str, Any], depth: int) -> Any:
        import sqlite3

        conn = sqlite3.connect(":memory:")
        conn.deserialize(_unb64(j.get("b")))
        return conn

    # ------------------------------------------------------------------ output capture

    def _capture_begin(self) -> _Capture:
        cap = _Capture()
        if not self._captures:
            self._patch_streams()
        self._captures.append(cap)
        return cap

    def _capture_end(self, cap: _Capture) -> tuple[str, str]:
        if cap in self._captures:
            self._captures.remove(cap)
        if not self._captures:
            self._unpatch_streams()
        return "".join(cap.parts["stdout"]), "".join(cap.parts["stderr"])

    def _writer(self, which: str) -> Callable[[str], int]:
        def write(s: str) -> int:
            if not isinstance(s, str):
                raise TypeError(f"write() argument must be str, not {type(s).__name__}")
            if self._captures:
                self._captures[-1].add(which, str.__str__(s))
            return len(s)

        return write

    def _patch_streams(self) -> None:
        # Patch ``write`` on the stream objects themselves, so loggers and warnings that hold a
        # reference to the stream are captured too, not only code that looks up sys.stdout.
        self._patched, self._swapped = [], []
        seen: set[int] = set()
        for which in ("stdout", "stderr"):
            stream = getattr(sys, which, None)
            if stream is None or id(stream) in seen:
                continue
            seen.add(id(stream))
            write = self._writer(which)
            try:
                d = vars(stream)
                had, prior = "write" in d, d.get("write")
                stream.write = write
                self._patched.append((stream, had, prior))
            except Exception:
                self._swapped.append((which, stream))
                setattr(sys, which, types.SimpleNamespace(write=write, flush=lambda: None))

    def _unpatch_streams(self) -> None:
        for stream, had, prior in reversed(self._patched):
            try:
                if had:
                    stream.write = prior
                else:
                    del stream.write
            except Exception:
                pass
        for which, stream in self._swapped:
            setattr(sys, which, stream)
        self._patched, self._swapped = [], []


def serve(
    sock_or_fd: socket.socket | int,
    namespace: dict[str, Any],
    *,
    max_frame: int = MAX_FRAME,
    max_depth: int = MAX_DEPTH,
) -> None:
    """Learner side: answer the checker's requests on the socket until it sends ``end``.

    Learner code raising anything is answered as an error and serving goes on, except SystemExit,
    which is answered and then ends the serving. A SIGINT (the checker giving up on a call) stops
    the running call with KeyboardInterrupt; between calls it is ignored. A socket passed as an fd
    is closed at the end.
    """
    _Learner(sock_or_fd, namespace, max_frame=max_frame, max_depth=max_depth).run()
