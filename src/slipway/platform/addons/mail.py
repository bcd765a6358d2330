"""mail:inbox and mail:show: the messages a mail add-on kept, for whoever can see the add-on."""

from __future__ import annotations

from slipway.addons.provider import Message, SupportsInbox
from slipway.platform import views
from slipway.platform.addons.providers import provider_errors, provider_for
from slipway.platform.addons.records import provisioned
from slipway.platform.errors import InvalidParams
from slipway.platform.tx import Platform


def _inbox_of(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> tuple[SupportsInbox, str]:
    with platform.tx() as tx:
        row, resource_id = provisioned(tx, actor, addon_ident, app_ident)
        service = row.service
    provider = provider_for(platform.ports, service)
    if not isinstance(provider, SupportsInbox):
        raise InvalidParams(
            f"{service} add-ons have no inbox; mail:inbox reads a slipway-mail add-on."
        )
    return provider, resource_id


def _view(message: Message) -> views.MailMessage:
    return views.MailMessage(
        id=message.id,
        received_at=message.received_at,
        mail_from=message.mail_from,
        recipients=message.recipients,
        subject=message.subject,
        size=message.size,
        status=message.status,
        raw=message.raw.decode("utf-8", errors="replace"),
    )


def list_messages(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
    limit: int = 100,
) -> list[views.MailMessage]:
    provider, resource_id = _inbox_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return [_view(m) for m in provider.inbox.list_messages(resource_id, limit)]


def get_message(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
    message_id: str,
) -> views.MailMessage:
    provider, resource_id = _inbox_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return _view(provider.inbox.message(resource_id, message_id))
