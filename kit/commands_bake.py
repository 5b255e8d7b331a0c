"""``credkit bake``: put a credential into its badge image (PNG or SVG)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kit.artwork import badge_png, badge_svg, credential_artwork_inputs
from kit.baking import bake as bake_image
from kit.errors import InvalidCredential
from kit.fileio import write_atomic

__all__ = ["artwork", "bake"]


def _write_atomically(path: Path, data: bytes) -> None:
    """Write the baked image atomically, mode 0644 like wallet files (a badge is meant to be shared)."""
    write_atomic(path, data, mode=0o644)


@click.command()
@click.argument("credential", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Badge image (PNG or SVG) to bake into. Default: artwork drawn from the credential, in OUT's format.",
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Baked image to write.")
def bake(credential: Path, image: Path | None, out: Path) -> None:
    """Bake CREDENTIAL (a JSON file) into a PNG or SVG badge image written to OUT."""
    from kit.limits import parse_json

    try:
        data = credential.read_bytes()
    except OSError as exc:
        raise InvalidCredential(f"{credential}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    document = parse_json(data, source=str(credential), error=InvalidCredential)
    text = data.decode("utf-8")
    if not isinstance(document, dict):
        raise InvalidCredential(f"{credential}: not a JSON object")
    if image is not None:
        source = image.read_bytes()
    else:
        name, skills, colour, issuer = credential_artwork_inputs(document)
        if out.suffix.lower() == ".png":
            source = badge_png(name, skills, colour, issuer=issuer)
            _warn_undrawable(out, name, *skills, issuer)
        elif out.suffix.lower() == ".svg":
            source = badge_svg(name, skills, colour, issuer=issuer).encode("utf-8")
        else:
            raise click.UsageError("without --image, OUT must end in .png or .svg")
    try:
        baked = bake_image(source, text)
    except InvalidCredential as exc:
        raise InvalidCredential(f"{image or out}: {exc}") from exc
    _write_atomically(out, baked)
    click.echo(f"credkit: baked {credential} into {out}", err=True)


@click.command()
@click.argument("name")
@click.option("--skill", "skills", multiple=True, help="A skill the credential certifies (repeatable, in order).")
@click.option("--colour", "--color", "colour", help="Badge colour #rrggbb. Default: chosen stably from --id or NAME.")
@click.option("--id", "achievement_id", help="The credential's achievement id (URI), to choose the colour.")
@click.option("--issuer", help="Issuer name shown at the top of the badge.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Image to write: .svg or .png.")
def artwork(name: str, skills: tuple[str, ...], colour: str | None, achievement_id: str | None, issuer: str | None, out: Path) -> None:
    """Draw badge artwork for a credential called NAME (SVG or PNG by OUT's suffix)."""
    from kit.artwork import colour_for

    chosen = colour or colour_for(achievement_id or name)
    try:
        if out.suffix.lower() == ".svg":
            data = badge_svg(name, list(skills), chosen, issuer=issuer).encode("utf-8")
        elif out.suffix.lower() == ".png":
            data = badge_png(name, list(skills), chosen, issuer=issuer)
            _warn_undrawable(out, name, *skills, issuer)
        else:
            raise click.UsageError("OUT must end in .svg or .png")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--colour") from None
    _write_atomically(out, data)
    click.echo(f"credkit: drew {out}", err=True)


def _warn_undrawable(out: Path, *texts: str | None) -> None:
    """Say which characters of the badge's text no installed font draws (left blank in the PNG)."""
    from kit.artwork import undrawable

    missing = undrawable(*texts)
    if missing:
        click.echo(f"credkit: warning: {out}: no installed font draws {' '.join(repr(c) for c in missing)}: "
                   "they are left blank (install a font that covers them, e.g. Debian's fonts-noto-core)", err=True)
