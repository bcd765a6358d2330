"""cloudamqp: a RabbitMQ vhost and user per add-on.

The broker is either one the operator names (`--rabbitmq-admin-url`, its
management API with an administrator) or a rabbitmq-server this provider runs
under `<data_dir>/addons/rabbitmq/server` with its own node name and ports.
The app reads `CLOUDAMQP_URL` (`amqp://USER:PASSWORD@HOST:PORT/VHOST`); plans
set the vhost's connection and queue limits, enforced by RabbitMQ itself and
changed live; `addons:open` logs the owner into the management UI as the
add-on's user, which sees its own vhost only.

The modules, one job each:

- `service.py`: the service, its plans and their limits.
- `provider.py`: `RabbitProvider`, the Provider protocol, change_plan, open_url.
- `management.py`: the management HTTP API and one sentence per failure.
- `embedded.py`: the embedded rabbitmq-server (its node, ports, files, admin).
"""

from slipway.addons.rabbitmq.provider import RabbitProvider
from slipway.addons.rabbitmq.service import PLAN_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = ["PLANS", "PLAN_LIMITS", "SERVICE", "SERVICE_NAME", "RabbitProvider"]
