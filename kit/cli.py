"""The ``credkit`` command line: thin, owns parsing, messages and exit codes.

Core commands (keys, sign, verify, bake, demo) live here; the nbgrader-side commands are loaded
lazily from ``grading`` so that ``credkit verify`` starts fast and needs no Jupyter stack.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from typing import Any

import click

from kit.errors import CredkitError

# name -> "module:attribute" of a click command, imported only when that command runs.
LAZY_COMMANDS: dict[str, str] = {
    "keys": "kit.commands:keys",
    "sign": "kit.commands:sign",
    "verify": "kit.commands:verify",
    "bake": "kit.commands_bake:bake",
    "artwork": "kit.commands_bake:artwork",
    "demo": "kit.commands:demo",
    "publish": "grading.commands_publish:publish",
    "credentials": "grading.commands_credentials:credentials",
    "revoke": "grading.commands_status:revoke",
    "suspend": "grading.commands_status:suspend",
    "unsuspend": "grading.commands_status:unsuspend",
    "validate": "grading.commands:validate",
    "release": "grading.commands:release",
    "new": "grading.commands:new",
    "grade": "grading.commands_grade:grade",
    "issue": "grading.commands_issue:issue",
    "report": "grading.commands_report:report",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug messages.")
@click.version_option(package_name="credkit")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """credkit: skill micro-credentials from nbgrader assessments, signed as Open Badges 3.0."""
    ctx.obj = {"verbose": verbose}


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopped like Ctrl-C: the same cleanup, so the next run finishes the work."""


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getpid() != _MAIN_PID:  # a forked helper inherited this handler: die as SIGTERM means
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated


_MAIN_PID = os.getpid()


def _on_unraisable(args: Any) -> None:
    """A Ctrl-C or SIGTERM that lands in a finalizer (a weakref callback, ``__del__``) is lost there
    ("Exception ignored in …"): deliver it again, where the command can stop cleanly."""
    if isinstance(args.exc_value, KeyboardInterrupt) and os.getpid() == _MAIN_PID:
        os.kill(os.getpid(), signal.SIGTERM if isinstance(args.exc_value, Terminated) else signal.SIGINT)
        return
    sys.__unraisablehook__(args)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every CredkitError into one line and exit code 1."""
    global _MAIN_PID
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    _MAIN_PID = os.getpid()
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    sys.unraisablehook = _on_unraisable
    try:
        return cli.main(args=args, prog_name="credkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("credkit: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CredkitError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"credkit: error: {exc.diagnostics()}", err=True)
        sys.exit(1)
    except OSError as exc:
        # A file a command read or wrote that the system refused (full disk, read-only folder, no
        # such folder): the user's to fix, so one line naming it, as for every CredkitError.
        if verbose:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"credkit: error: {where}{exc.strerror or exc.__class__.__name__}", err=True)
        sys.exit(1)
    except Terminated:
        click.echo("credkit: stopped (SIGTERM); run the same command again to finish the work", err=True)
        sys.exit(143)
    except KeyboardInterrupt:
        click.echo("credkit: interrupted; run the same command again to finish the work", err=True)
        sys.exit(130)
