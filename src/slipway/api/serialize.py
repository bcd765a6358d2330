"""Views -> Heroku Platform API v3 JSON shapes (field names as in Heroku's schema)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from slipway.platform import dynos, views
from slipway.platform.addons import catalogue_id
from slipway.platform.app_setups import AppSetup
from slipway.platform.formation_rules import display_size, parse_size
from slipway.platform.permissions import PERMISSION_DESCRIPTIONS, Permission

Json = dict[str, Any]

# Stable ids for the fixed catalogue objects (stack, region) so clients can cache them.
STACK_ID = "8a5b3e5c-4f0e-4d4b-9b8e-5e1b0f5a2b24"
REGION_ID = "59accabd-516d-4f0e-83e6-6e3757701145"


def ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account(a: views.Account) -> Json:
    return {
        "id": a.id,
        "email": a.email,
        "name": a.name or None,
        "allow_tracking": False,
        "beta": False,
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
        "last_login": ts(a.last_login_at),
        "verified": True,
        "two_factor_authentication": False,
        "default_organization": None,
        "default_team": None,
        "identity_provider": None,
        "sms_number": None,
        "suspended_at": None,
        "delinquent_at": None,
        "federated": False,
        "country_of_residence": None,
    }


def app(a: views.App) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "acm": a.acm,
        "archived_at": None,
        "buildpack_provided_description": a.buildpack_provided_description,
        "build_stack": {"id": STACK_ID, "name": a.build_stack},
        "created_at": ts(a.created_at),
        "generation": {"id": "0b6f8a84-2a3a-4f8e-8d7b-3c4a6c6e1c11", "name": "cedar"},
        "git_url": a.git_url,
        "internal_routing": False,
        "maintenance": a.maintenance,
        # A team app's owner is the team, as Heroku's `TEAM@herokumanager.com`.
        "owner": (
            {"id": a.team.id, "email": f"{a.team.name}@herokumanager.com"}
            if a.team
            else {"id": a.owner.id, "email": a.owner.email}
        ),
        "organization": {"id": a.team.id, "name": a.team.name} if a.team else None,
        "team": {"id": a.team.id, "name": a.team.name} if a.team else None,
        "region": {"id": REGION_ID, "name": a.region},
        "released_at": ts(a.released_at),
        "repo_size": 0,
        "slug_size": a.slug_size,
        "space": None,
        "stack": {"id": STACK_ID, "name": a.stack},
        "updated_at": ts(a.updated_at),
        "web_url": a.web_url,
        "create_status": "complete",
        "locked": a.locked,
        "process_tier": a.process_tier,
        "sleeps": a.sleeps,
    }


def stack(name: str) -> Json:
    return {
        "id": STACK_ID,
        "name": name,
        "state": "beta" if name.endswith("-edge") else "public",
        "default": True,
        "created_at": None,
        "updated_at": None,
    }


def region(name: str) -> Json:
    return {
        "id": REGION_ID,
        "name": name,
        "country": "",
        "description": "This Slipway server",
        "locale": "",
        "private_capable": False,
        "provider": {"name": "slipway", "region": name},
        "created_at": None,
        "updated_at": None,
    }


def feature(f: views.AppFeature) -> Json:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:feature:{f.name}")),
        "name": f.name,
        "display_name": f.display_name,
        "description": f.description,
        "doc_url": f.doc_url,
        "enabled": f.enabled,
        "state": f.state,
        "feedback_email": None,
        "created_at": None,
        "updated_at": None,
    }


def app_extended(a: views.App) -> Json:
    """`GET /apps/{app}?extended=true` (`heroku apps:info -x`): Heroku's extra fields, and
    what Slipway knows of the app besides."""
    return {
        "cron_finished_at": None,
        "cron_next_run": None,
        "database_size": None,
        "slug_commit": a.slug_commit,
        "feature_switches": dict(a.feature_switches),
        "process_tier": a.process_tier,
        "sleeps": a.sleeps,
    }


def release(r: views.Release, output_stream_url: str | None = None) -> Json:
    return {
        "id": r.id,
        "version": r.version,
        "description": r.description,
        "status": r.status,
        "current": r.current,
        "eligible_for_rollback": r.eligible_for_rollback,
        # Slipway adds the slug's runtimes (heroku releases:info --json shows them).
        "slug": {"id": r.slug_id, "runtimes": r.slug_runtimes} if r.slug_id else None,
        "addon_plan_names": list(r.addon_plan_names),
        "artifacts": [{"type": "slug", "id": r.slug_id}] if r.slug_id else [],
        "app": {"id": r.app_id, "name": r.app_name},
        "user": {"id": r.user_id, "email": r.user_email},
        "output_stream_url": output_stream_url if r.release_phase else None,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
    }


def slug(s: views.Slug) -> Json:
    return {
        "id": s.id,
        "process_types": s.process_types,
        "commit": s.commit,
        "commit_description": s.commit_description,
        "buildpack_provided_description": s.buildpack_provided_description,
        "stack": {"id": STACK_ID, "name": s.stack},
        "size": s.size,
        "checksum": s.checksum,
        # Slipway's: the language runtimes the buildpacks put into the slug.
        "runtimes": s.runtimes,
        # The archive itself is uploaded by the deploy pipeline; no blob URL yet.
        "blob": None,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
    }


def formation(f: views.Formation) -> Json:
    size = display_size(parse_size(f.size).name)
    return {
        "id": f.id,
        "app": {"id": f.app_id, "name": f.app_name},
        "command": f.command,
        "quantity": f.quantity,
        "size": size,
        "dyno_size": {"id": None, "name": size},
        "type": f.type,
        "created_at": ts(f.created_at),
        "updated_at": ts(f.updated_at),
    }


def permission(p: Permission) -> Json:
    return {"name": p.value, "description": PERMISSION_DESCRIPTIONS[p]}


def user_ref(a: views.Account) -> Json:
    return {"id": a.id, "email": a.email, "federated": False}


def collaborator(c: views.Collaborator) -> Json:
    return {
        "id": c.id,
        "app": {"id": c.app_id, "name": c.app_name},
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "permissions": [permission(p) for p in c.permissions],
        "role": c.role,
        "user": user_ref(c.user),
    }


def authorization(a: views.Authorization) -> Json:
    now = dt.datetime.now(dt.UTC)
    expires_in = int((a.expires_at - now).total_seconds()) if a.expires_at else None
    return {
        "id": a.id,
        "description": a.description,
        "scope": list(a.scope),
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
        "access_token": {"id": a.id, "token": a.token, "expires_in": expires_in},
        "refresh_token": None,
        "grant": None,
        "client": None,
        "session": None,
        "user": {"id": a.user.id, "email": a.user.email, "full_name": a.user.name or None},
        # Slipway's own: what `slipway authorizations` shows.
        "kind": a.kind,
        "expires_at": ts(a.expires_at),
        "last_used_at": ts(a.last_used_at),
        "last_used_from": a.last_used_from,
    }


def team(t: views.Team) -> Json:
    return {
        "id": t.id,
        "name": t.name,
        "role": t.role,
        "type": "team",
        "default": False,
        "membership_limit": None,
        "provisioned_licenses": False,
        "credit_card_collections": False,
        "enterprise_account": None,
        "identity_provider": None,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.updated_at),
    }


def team_member(m: views.TeamMember) -> Json:
    return {
        "id": m.id,
        "email": m.user.email,
        "role": m.role,
        "federated": False,
        "two_factor_authentication": False,
        "identity_provider": None,
        "user": {"id": m.user.id, "email": m.user.email, "name": m.user.name or None},
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
    }


def invitation(i: views.Invitation, url: str | None = None) -> Json:
    return {
        "id": i.id,
        "email": i.email,
        "role": i.role,
        "team": {"id": i.team.id, "name": i.team.name} if i.team else None,
        "invited_by": {"email": i.invited_by},
        "user": {"email": i.email},
        "expires_at": ts(i.expires_at),
        "accepted_at": ts(i.accepted_at),
        "created_at": ts(i.created_at),
        "updated_at": ts(i.created_at),
        # Only when just made: the link to send, which is shown this once.
        "invitation_url": url,
    }


def app_transfer(t: views.AppTransfer) -> Json:
    return {
        "id": t.id,
        "app": {"id": t.app_id, "name": t.app_name},
        "owner": user_ref(t.owner),
        "recipient": user_ref(t.recipient),
        "state": t.state,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.updated_at),
    }


def audit_event(e: views.AuditEvent) -> Json:
    return {
        "id": e.id,
        "created_at": ts(e.created_at),
        "action": e.action,
        "actor": {"id": e.account_id, "email": e.email},
        "address": e.address,
        "app": {"id": e.app_id, "name": e.app_name} if e.app_id else None,
        "description": e.description,
    }


def admin_account(a: views.Account) -> Json:
    return {
        **account(a),
        "admin": a.is_admin,
        "disabled": a.disabled,
        "has_password": a.has_password,
    }


def buildpack_ref(url: str) -> Json:
    return {"url": url, "name": url}


def build(b: views.Build, output_stream_url: str) -> Json:
    return {
        "id": b.id,
        "app": {"id": b.app_id, "name": b.app_name},
        "buildpacks": [buildpack_ref(u) for u in b.buildpacks] or None,
        "created_at": ts(b.created_at),
        "output_stream_url": output_stream_url,
        "source_blob": {
            "checksum": b.source_checksum,
            "url": b.source_url,
            "version": b.source_version,
            "version_description": None,
        },
        "release": {"id": b.release_id, "version": b.release_version} if b.release_id else None,
        "slug": {"id": b.slug_id, "runtimes": b.runtimes} if b.slug_id else None,
        "stack": b.stack,
        "status": b.status,
        "updated_at": ts(b.updated_at),
        "user": {"id": b.user_id, "email": b.user_email},
    }


def buildpack_installations(urls: list[str]) -> list[Json]:
    return [{"ordinal": i, "buildpack": buildpack_ref(u)} for i, u in enumerate(urls)]


def log_session(s: views.LogSession, logplex_url: str) -> Json:
    return {
        "id": s.id,
        "logplex_url": logplex_url,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.created_at),
    }


def log_drain(d: views.LogDrain) -> Json:
    return {
        "id": d.id,
        "token": d.token,
        "url": d.url,
        "addon": None,
        "app": {"id": d.app_id, "name": d.app_name},
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
    }


def dyno(d: dynos.DynoView) -> Json:
    info = d.info
    return {
        "id": info.id,
        "app": {"id": info.app_id, "name": d.app_name},
        "attach_url": info.attach_url,
        "command": info.command,
        "name": info.name,
        "release": {"id": d.release_id, "version": info.release_version},
        "size": display_size(info.size),
        "state": info.state,
        "type": info.type,
        "created_at": ts(info.created_at),
        "updated_at": ts(info.updated_at),
    }


def domain(d: views.Domain) -> Json:
    return {
        "id": d.id,
        "app": {"id": d.app_id, "name": d.app_name},
        "hostname": d.hostname,
        "kind": d.kind,
        "cname": d.cname,
        "status": "succeeded",
        "acm_status": d.acm_status,
        "acm_status_reason": d.acm_status_reason,
        "sni_endpoint": {"name": d.sni_endpoint} if d.sni_endpoint else None,
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
    }


def sni_endpoint(e: views.SniEndpoint) -> Json:
    """Heroku's sni-endpoint: the certificate (never its key) and the domains it serves."""
    cert_id = e.id
    return {
        "id": e.id,
        "name": e.name,
        "display_name": None,
        "certificate_chain": e.certificate_chain,
        "domains": list(e.domains),
        "app": {"id": e.app_id, "name": e.app_name} if e.app_id else None,
        "ssl_cert": {
            "id": cert_id,
            "acm": e.acm,
            "ca_signed?": not e.self_signed,
            "self_signed?": e.self_signed,
            "cert_domains": list(e.hostnames),
            "issuer": e.issuer,
            "subject": e.subject,
            "starts_at": ts(e.not_before),
            "expires_at": ts(e.not_after),
        },
        "created_at": ts(e.created_at),
        "updated_at": ts(e.updated_at),
    }


def addon_service(service: views.AddonService) -> Json:
    return {
        "id": service.id,
        "name": service.name,
        "human_name": service.human_name,
        "cli_plugin_name": None,
        "state": "ga",
        "supports_multiple_installations": True,
        "supports_sharing": True,
        "created_at": None,
        "updated_at": None,
    }


def plan(p: views.AddonPlan) -> Json:
    return {
        "id": p.id,
        "name": p.name,
        "human_name": p.human_name,
        "description": p.description,
        "default": p.default,
        "price": {"cents": p.price_cents, "unit": "month", "contract": False, "metered": False},
        "state": "public",
        "addon_service": {"id": p.service.id, "name": p.service.name},
        "compliance": [],
        "installable_inside_private_network": False,
        "installable_outside_private_network": True,
        "created_at": None,
        "updated_at": None,
    }


def _plan_ref(name: str, cents: int = 0) -> Json:
    return {
        "id": catalogue_id("plan", name),
        "name": name,
        "price": {"cents": cents, "unit": "month", "contract": False, "metered": False},
    }


def addon(a: views.Addon, web_url: str | None = None) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "addon_service": {"id": catalogue_id("service", a.service), "name": a.service},
        "plan": _plan_ref(a.plan, a.price_cents),
        "app": {"id": a.app_id, "name": a.app_name},
        "billing_entity": {"id": a.app_id, "name": a.app_name, "type": "app"},
        "billed_price": {"cents": a.price_cents, "contract": False, "unit": "month"},
        "config_vars": list(a.config_vars),
        "attachment_names": list(a.attachment_names),
        "state": a.state,
        "provision_message": a.provision_message or None,
        "provider_id": a.id,
        "web_url": a.web_url or web_url,
        "actions": [],
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
    }


def attachment(a: views.Attachment, web_url: str | None = None) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "namespace": None,
        "addon": {
            "id": a.addon_id,
            "name": a.addon_name,
            "app": {"id": a.addon_app_id, "name": a.addon_app_name},
            "plan": _plan_ref(a.addon_plan),
            "addon_service": {
                "id": catalogue_id("service", a.addon_service),
                "name": a.addon_service,
            },
        },
        "app": {"id": a.app_id, "name": a.app_name},
        "config_vars": list(a.config_vars),
        "web_url": a.web_url or web_url,
        "log_input_url": None,
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
    }


def backup(b: views.AddonBackup) -> Json:
    """Slipway's own shape (pg:backups): Heroku's backups live in another API."""
    return {
        "name": b.name,
        "created_at": ts(b.created_at),
        "size": b.size,
        "status": b.status,
        "scheduled": b.scheduled,
    }


def info_row(label: str, value: str) -> Json:
    return {"label": label, "value": value}


def scheduler_job(j: views.SchedulerJob) -> Json:
    return {
        "id": j.id,
        "app": {"id": j.app_id, "name": j.app_name},
        "addon": {"name": j.addon_name},
        "frequency": j.frequency,
        "schedule": j.schedule,
        "command": j.command,
        "dyno_size": j.size,
        "next_run_at": ts(j.next_run_at),
        "last_run_at": ts(j.last_run_at) if j.last_run_at else None,
        "last_dyno": j.last_dyno,
        "created_at": ts(j.created_at),
        "updated_at": ts(j.updated_at),
    }


def transfer_schedule(s: views.BackupSchedule) -> Json:
    """Heroku's data API shape (`pg:backups:schedules` reads uuid, name, hour, timezone)."""
    return {
        "uuid": s.id,
        "name": s.name,
        "hour": s.hour,
        "days": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "timezone": s.timezone,
        "retain_weeks": None,
        "retain_months": None,
        "retention": s.retention,
        "next_run_at": ts(s.next_run_at),
        "last_run_at": ts(s.last_run_at) if s.last_run_at else None,
        "addon": {"id": s.addon_id, "name": s.addon_name},
    }


def mail_message(m: views.MailMessage, *, raw: bool = False) -> Json:
    body: Json = {
        "id": m.id,
        "received_at": ts(m.received_at),
        "from": m.mail_from,
        "to": list(m.recipients),
        "subject": m.subject,
        "size": m.size,
        "status": m.status,
    }
    if raw:
        body["raw"] = m.raw
    return body


def app_setup(s: AppSetup, output_url: Callable[[str], str]) -> Json:
    """Heroku's app-setup object; Slipway adds the step a setup is at (or failed at)."""
    return {
        "id": s.id,
        "app": {"id": s.app_id, "name": s.app_name},
        "build": (
            {
                "id": s.build_id,
                "status": s.build_status,
                "output_stream_url": output_url(s.build_id),
            }
            if s.build_id
            else None
        ),
        "status": s.status,
        "step": s.step,
        "failure_message": s.failure_message,
        "manifest_errors": list(s.manifest_errors),
        "postdeploy": s.postdeploy,
        "resolved_success_url": None,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
    }
