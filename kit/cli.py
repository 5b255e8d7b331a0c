"""The ``credkit`` command line: thin, owns parsing, messages and exit codes.

Core commands (keys, sign, verify, bake, demo) live here; the nbgrader-side commands are loaded
lazily from ``grading`` so that ``credkit verify`` starts fast and needs no Jupyter stack.
"""

from __future__ import annotations

import importlib
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


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every CredkitError into one line and exit code 1."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
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
    except KeyboardInterrupt:
        click.echo("credkit: interrupted", err=True)
        sys.exit(130)
