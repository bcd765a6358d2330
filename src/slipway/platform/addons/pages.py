"""addons:open: the add-on's web page (a management UI), for whoever may see the add-on.

The add-on's `web_url` is the platform's own `/addons/ID/open`; there the person
is authenticated like any API request, and only then does the provider say
where to go and which cookies log them in (`OpenPage`).
"""

from __future__ import annotations

from slipway.addons.provider import OpenPage, SupportsOpen
from slipway.platform import views
from slipway.platform.addons.providers import provider_errors, provider_for
from slipway.platform.addons.records import provisioned
from slipway.platform.errors import InvalidParams
from slipway.platform.tx import Platform


def open_page(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None = None
) -> OpenPage:
    with platform.tx() as tx:
        row, resource_id = provisioned(tx, actor, addon_ident, app_ident)
        service = row.service
    provider = provider_for(platform.ports, service)
    if not isinstance(provider, SupportsOpen):
        raise InvalidParams(f"{service} add-ons have no web page to open.")
    with provider_errors():
        return provider.open_page(resource_id)
