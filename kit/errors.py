"""The one exception tree of credkit.

Every failure a user can cause is a :class:`CredkitError`; the CLI catches only this base class and
prints :meth:`CredkitError.diagnostics` as one line.
"""

from __future__ import annotations

__all__ = [
    "CredkitError",
    "InvalidCredential",
    "KeyLoadError",
    "SigningError",
    "VerificationError",
    "CanonicalizationError",
    "ManifestError",
    "AssessmentInvalid",
    "GradingError",
    "SandboxError",
]


class CredkitError(Exception):
    """Base of every error credkit raises on purpose."""

    def diagnostics(self) -> str:
        """One human line: what went wrong and where."""
        return str(self)


class InvalidCredential(CredkitError):
    """A credential document is malformed (not JSON, wrong shape, fails the schema)."""


class KeyLoadError(CredkitError):
    """A key file cannot be read, parsed, decrypted or used for what was asked."""


class SigningError(CredkitError):
    """A document cannot be signed as it stands (unknown context, dropped term, relative IRI)."""


class CanonicalizationError(CredkitError):
    """JSON-LD expansion or RDF canonicalization failed or exceeded its work bound."""


class VerificationError(CredkitError):
    """A credential failed a verification check; ``check`` names which one."""

    def __init__(self, message: str, *, check: str = "proof") -> None:
        super().__init__(message)
        self.check = check


class ManifestError(CredkitError):
    """An assessment manifest or notebook is wrong; the message names the file and the key."""


class AssessmentInvalid(ManifestError):
    """An assessment or track has problems; ``problems`` lists each as ``<file>: <key>: <problem>``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = f" (and {len(self.problems) - 1} more problem(s); run credkit validate)" if len(self.problems) > 1 else ""
        super().__init__((self.problems[0] if self.problems else "invalid assessment") + more)


class GradingError(CredkitError):
    """A batch cannot be graded as asked (no course, no such assessment, unusable gradebook)."""


class SandboxError(GradingError):
    """The sandbox for learner code cannot be set up here, or a sandboxed execution broke its limits."""
