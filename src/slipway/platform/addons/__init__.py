"""Add-ons: provision a service through its provider, attach it to apps as config vars.

The providers are the platform's `addons` port (`ports.Ports.addons`, wired by
the server from the `slipway.addons` entry points); everything the API does
with add-ons is one of the use cases below, and a provider's AddonError is
translated into the platform's errors in one place (`providers.platform_error`).

- `catalogue.py`: the services and plans the providers offer; SERVICE[:PLAN].
- `provisioning.py`: create and destroy add-ons (between two transactions).
- `attachments.py`: attach and detach, each a release with the config vars.
- `records.py`: finding, listing and resolving the add-ons an actor can see.
- `resources.py`: pg:info/redis:info, credential rotation, Postgres backups.
- `rename.py`: renaming an add-on.
- `data.py`: what Heroku's data API answers (pg:*, redis:*), transfers included.
- `providers.py`: the port's lookup and the error translation.
- `plans.py`: addons:upgrade / addons:downgrade.
- `mail.py`: a mail add-on's inbox; `pages.py`: addons:open.
- `backup_schedules.py`: pg:backups:schedule and the daily captures; `limits.py`:
  limits the ticker enforces.
- `refresh.py`: at start, attachments whose provider now gives other values (a
  server that moved) get a release with them.
"""

from slipway.platform.addons.attachments import (
    attach,
    detach,
    get_attachment,
    list_attachments,
    resolve_attachments,
)
from slipway.platform.addons.catalogue import (
    catalogue_id,
    get_plan,
    get_service,
    list_plans,
    list_services,
    resolve_plan,
)
from slipway.platform.addons.mail import get_message, list_messages
from slipway.platform.addons.pages import open_page
from slipway.platform.addons.plans import change_plan
from slipway.platform.addons.providers import platform_error
from slipway.platform.addons.provisioning import create_addon, destroy_addon, destroy_app_addons
from slipway.platform.addons.records import get_addon, list_addons, resolve
from slipway.platform.addons.rename import rename_addon
from slipway.platform.addons.resources import (
    addon_info,
    addon_page,
    backup_path,
    capture_backup,
    list_backups,
    resource_of,
    restore_backup,
    rotate_credentials,
)

__all__ = [
    "addon_info",
    "addon_page",
    "attach",
    "backup_path",
    "capture_backup",
    "catalogue_id",
    "change_plan",
    "create_addon",
    "destroy_addon",
    "destroy_app_addons",
    "detach",
    "get_addon",
    "get_attachment",
    "get_message",
    "get_plan",
    "get_service",
    "list_addons",
    "list_attachments",
    "list_backups",
    "list_messages",
    "list_plans",
    "list_services",
    "open_page",
    "platform_error",
    "rename_addon",
    "resolve",
    "resolve_attachments",
    "resolve_plan",
    "resource_of",
    "restore_backup",
    "rotate_credentials",
]
