"""Options and helpers the `cdss` commands share (`cds_service.cli`, the population commands)."""

from __future__ import annotations

from pathlib import Path

import click

from cds_service.settings import ConfigurationError, Settings, load_settings

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML configuration file (default: $CDSS_CONFIG, else built-in defaults).",
)


def settings_from(config_file: Path | None) -> Settings:
    """The settings of `--config`, a configuration error as the command's one-line error."""
    try:
        return load_settings(config_file)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
