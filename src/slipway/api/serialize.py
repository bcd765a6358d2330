"""Views -> Heroku Platform API v3 JSON shapes (field names as in Heroku's schema)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slipway.platform import dynos, views
from slipway.platform.addons import catalogue_id
from slipway.platform.app_setups import AppSetup
from slipway.platform.formation_rules import display_size, parse_size

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
        "last_login": None,
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
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": a.buildpack_provided_description,
        "build_stack": {"id": STACK_ID, "name": a.build_stack},
        "created_at": ts(a.created_at),
        "generation": {"id": "0b6f8a84-2a3a-4f8e-8d7b-3c4a6c6e1c11", "name": "cedar"},
        "git_url": a.git_url,
        "internal_routing": False,
        "maintenance": a.maintenance,
        "owner": {"id": a.owner.id, "email": a.owner.email},
        "organization": None,
        "team": None,
        "region": {"id": REGION_ID, "name": a.region},
        "released_at": ts(a.released_at),
        "repo_size": 0,
        "slug_size": a.slug_size,
        "space": None,
        "stack": {"id": STACK_ID, "name": a.stack},
        "updated_at": ts(a.updated_at),
        "web_url": a.web_url,
        "create_status": "complete",
        "locked": False,
        "process_tier": a.process_tier,
        "sleeps": a.sleeps,
    }


def release(r: views.Release) -> Json:
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
        "output_stream_url": None,
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


def collaborator(a: views.App) -> Json:
    return {
        "id": a.owner.id,
        "app": {"id": a.id, "name": a.name},
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
        "permissions": [
            {"name": p, "description": p} for p in ("deploy", "manage", "operate", "view")
        ],
        "role": "owner",
        "user": {"id": a.owner.id, "email": a.owner.email, "federated": False},
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
        "acm_status": None,
        "acm_status_reason": None,
        "sni_endpoint": None,
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
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


def addon(a: views.Addon) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "addon_service": {"id": catalogue_id("service", a.service), "name": a.service},
        "plan": {
            "id": catalogue_id("plan", a.plan),
            "name": a.plan,
            "price": {"cents": 0, "unit": "month", "contract": False, "metered": False},
        },
        "app": {"id": a.app_id, "name": a.app_name},
        "billing_entity": {"id": a.app_id, "name": a.app_name, "type": "app"},
        "billed_price": {"cents": 0, "contract": False, "unit": "month"},
        "config_vars": list(a.config_vars),
        "state": a.state,
        "provision_message": a.provision_message or None,
        "provider_id": a.id,
        "web_url": None,
        "actions": [],
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
    }


def attachment(a: views.Attachment) -> Json:
    return {
        "id": a.id,
        "name": a.name,
        "namespace": None,
        "addon": {
            "id": a.addon_id,
            "name": a.addon_name,
            "app": {"id": a.addon_app_id, "name": a.addon_app_name},
        },
        "app": {"id": a.app_id, "name": a.app_name},
        "web_url": None,
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
    }


def info_row(label: str, value: str) -> Json:
    return {"label": label, "value": value}


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
