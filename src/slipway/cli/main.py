"""`slipway`: Heroku's commands, against your own Slipway."""

from __future__ import annotations

from typing import Any

import click

from slipway import __version__
from slipway.cli.commands import (
    access,
    accounts,
    addons,
    apps,
    auth,
    authorizations,
    builds,
    config,
    domains,
    logs,
    marketplace,
    metrics,
    ps,
    releases,
    run,
    scheduler,
    setup,
    teams,
    trust,
)
from slipway.cli.context import CliContext
from slipway.cli.errors import CliError
from slipway.cli.output import err_console

# Heroku's short forms.
ALIASES = {
    "create": "apps:create",
    "destroy": "apps:destroy",
    "info": "apps:info",
    "rename": "apps:rename",
    "rollback": "releases:rollback",
    "scale": "ps:scale",
    "restart": "ps:restart",
    "addons:add": "addons:create",
    "addons:remove": "addons:destroy",
    "ps:resize": "ps:type",
    "resize": "ps:type",
    "dyno:restart": "ps:restart",
    "dyno:stop": "ps:stop",
    "dyno:kill": "ps:kill",
    "whoami": "auth:whoami",
    "apps:list": "apps",
    "config:list": "config",
    "releases:list": "releases",
    "login:password": "accounts:password",
    "sharing": "access",
    "sharing:add": "access:add",
    "sharing:remove": "access:remove",
}


class SlipwayGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, ALIASES.get(cmd_name, cmd_name))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            err_console.print(f" \u203a   Error: {exc.message}", markup=False)
            ctx.exit(exc.exit_code)


@click.group(cls=SlipwayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="slipway")
@click.option("--api-url", envvar="SLIPWAY_API_URL", default=None, help="The Slipway API URL.")
@click.pass_context
def cli(ctx: click.Context, api_url: str | None) -> None:
    """Slipway: a self-hosted Heroku. Commands follow the heroku CLI."""
    # A CliContext handed in by the caller (the in-process test harness) is kept.
    if not isinstance(ctx.obj, CliContext):
        ctx.obj = CliContext.from_env(api_url)


for command in (
    auth.login,
    auth.logout,
    auth.whoami,
    auth.token,
    auth.heroku_env,
    auth.heroku,
    auth.servers_list,
    trust.trust,
    *accounts.COMMANDS,
    *authorizations.COMMANDS,
    *access.COMMANDS,
    *teams.COMMANDS,
    apps.apps_list,
    apps.apps_create,
    apps.apps_info,
    apps.apps_rename,
    apps.apps_destroy,
    apps.git_remote,
    apps.git_credentials,
    setup.apps_setup,
    builds.builds_list,
    builds.builds_info,
    builds.builds_output,
    builds.buildpacks_list,
    builds.buildpacks_set,
    builds.buildpacks_add,
    builds.buildpacks_remove,
    builds.buildpacks_clear,
    config.config_list,
    config.config_get,
    config.config_set,
    config.config_unset,
    releases.releases_list,
    releases.releases_info,
    releases.releases_rollback,
    ps.ps_scale,
    ps.ps,
    ps.ps_restart,
    ps.ps_stop,
    ps.ps_kill,
    ps.ps_type,
    run.run,
    run.run_detached,
    domains.domains_list,
    domains.domains_add,
    domains.domains_remove,
    domains.maintenance,
    domains.maintenance_on,
    domains.maintenance_off,
    *addons.COMMANDS,
    *marketplace.COMMANDS,
    *scheduler.COMMANDS,
    logs.logs,
    logs.drains_list,
    logs.drains_add,
    logs.drains_remove,
    metrics.metrics,
):
    cli.add_command(command)
