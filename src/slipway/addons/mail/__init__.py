"""slipway-mail: Slipway's own mail service, an SMTP login and an inbox per add-on.

One submission server (aiosmtpd, inside the platform) on 127.0.0.1 and the dyno
bridge's address (`listen_host`, which `SMTP_SERVER` names) with
STARTTLS (a certificate from the platform's CA) and AUTH. Apps read `SMTP_URL`
(`smtp://LOGIN:PASSWORD@HOST:PORT`), `SMTP_SERVER`/`_PORT`/`_LOGIN`/`_PASSWORD`
and the same under `MAILGUN_SMTP_*`, the names apps written for Mailgun read.
Every accepted message is DKIM-signed for its sender's domain, kept in the
add-on's inbox (the newest 1,000: `slipway mail:inbox`, `mail:show ID`) and,
with `--smtp-relay`, relayed to the operator's smarthost. Plans limit the
messages an hour and the size of a message.

The modules, one job each:

- `service.py`: the service, its plans and their limits.
- `provider.py`: `MailProvider`, the Provider protocol, the server's lifecycle.
- `smtp.py`: the submission server and the checks on each message.
- `inbox.py`: each add-on's messages on disk.
- `dkim_keys.py`: a DKIM key per sender domain, and signing.
- `relay.py`: the smarthost and the worker that relays to it.
"""

from slipway.addons.mail.provider import MailProvider
from slipway.addons.mail.service import PLAN_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = ["PLANS", "PLAN_LIMITS", "SERVICE", "SERVICE_NAME", "MailProvider"]
