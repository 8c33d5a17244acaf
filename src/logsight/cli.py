"""The ``logsight`` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from uuid import UUID

import psycopg

from logsight.config import Settings


def _settings() -> Settings:
    return Settings()


def _database_url(settings: Settings) -> str:
    from logsight.local.runtime import resolve_database_url

    return resolve_database_url(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from logsight.storage.migrate import migrate

    settings = _settings()
    applied = migrate(_database_url(settings), timescale=settings.timescale)
    print("\n".join(f"applied {name}" for name in applied) or "up to date")
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from logsight.storage.maintenance import run_maintenance

    settings = _settings()
    count = run_maintenance(
        _database_url(settings),
        default_retention_days=settings.default_retention_days,
        ahead_days=settings.partitions_ahead_days,
    )
    print(f"maintenance: {count} statements")
    return 0


def cmd_topology(args: argparse.Namespace) -> int:
    from logsight.queue.topology import ensure_topology

    queues = ensure_topology(_settings())
    print("\n".join(queues))
    return 0


def _project_id(conn: psycopg.Connection, ref: str) -> UUID:
    from logsight.storage.projects import find_project

    try:
        return UUID(ref)
    except ValueError:
        found = find_project(conn, ref)
        if found is None:
            raise SystemExit(f"error: no project {ref!r}") from None
        return found


def cmd_privacy_delete_user(args: argparse.Namespace) -> int:
    """Queue the deletion (audited like the API's), then carry it out at once unless --queue."""
    from logsight.privacy.deletion import queue_deletion, run_pending
    from logsight.query.privacy import organization_by_ref, privacy_job, project_organization

    settings = _settings()
    with psycopg.connect(_database_url(settings), autocommit=True) as conn:
        project_id = _project_id(conn, args.project) if args.project else None
        organization_id = (
            project_organization(conn, project_id)
            if project_id is not None
            else organization_by_ref(conn, args.organization)
        )
        if organization_id is None:
            print(f"error: no organization {args.organization!r}", file=sys.stderr)
            return 1
        kind, subject = ("email", args.email) if args.email else ("user_id", args.user_id)
        job_id = queue_deletion(
            conn,
            organization_id=organization_id,
            project_id=project_id,
            subject_kind=kind,
            subject=subject,
            requested_by=None,
        )
        print(f"job      {job_id} queued")
        if not args.queue:
            run_pending(conn, job_id=job_id)
        job = privacy_job(conn, job_id)
    assert job is not None
    print(f"status   {job['status']}")
    if job["result"]:
        print("deleted  " + json.dumps(job["result"], sort_keys=True))
    return 0 if job["status"] in ("done", "queued") else 1


def cmd_privacy_scrub_dead_letters(args: argparse.Namespace) -> int:
    from logsight.processing.dead_letters import scrub_stored

    with psycopg.connect(_database_url(_settings()), autocommit=True) as conn:
        print(f"scrubbed {scrub_stored(conn)} dead letters")
    return 0


def cmd_project_create(args: argparse.Namespace) -> int:
    from logsight.storage.projects import create_project

    settings = _settings()
    with psycopg.connect(_database_url(settings), autocommit=True) as conn:
        project = create_project(
            conn, args.name, retention_days=args.retention_days or settings.default_retention_days
        )
    if args.json:
        print(json.dumps({"id": str(project.id), "slug": project.slug, "key": project.public_key}))
    else:
        print(f"project {project.name} ({project.id})")
        print(f"key     {project.public_key}")
    return 0


def cmd_key_create(args: argparse.Namespace) -> int:
    from logsight.storage.keys import create_key

    with psycopg.connect(_database_url(_settings()), autocommit=True) as conn:
        key = create_key(
            conn, _project_id(conn, args.project), label=args.label, allowed_origins=args.origin
        )
    print(key)
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    from logsight.storage.keys import revoke_key

    with psycopg.connect(_database_url(_settings()), autocommit=True) as conn:
        if not revoke_key(conn, args.key):
            print("error: no such active key", file=sys.stderr)
            return 1
    print("revoked")
    return 0


def cmd_key_list(args: argparse.Namespace) -> int:
    from logsight.storage.keys import project_keys

    with psycopg.connect(_database_url(_settings()), autocommit=True) as conn:
        rows = project_keys(conn, _project_id(conn, args.project))
    for key, label, origins, revoked in rows:
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else "active"
        print(f"{key}  {state:<18} {label or '-':<12} {','.join(origins) or 'any origin'}")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from logsight.auth.accounts import EmailTaken
    from logsight.auth.bootstrap import create_account
    from logsight.tenancy.access import Role

    if "@" not in args.email:
        print(f"error: {args.email!r} is not an email address", file=sys.stderr)
        return 2
    organization = args.organization or ("default" if args.admin else None)
    with psycopg.connect(_database_url(_settings()), autocommit=True) as conn:
        try:
            user_id, password = create_account(
                conn,
                args.email,
                organization_slug=organization,
                role=Role.OWNER if args.admin else Role.MEMBER,
            )
        except EmailTaken:
            print(f"error: a user with the email {args.email} exists", file=sys.stderr)
            return 1
    role = "owner" if args.admin else "member"
    print(f"user     {args.email} ({user_id})")
    if organization:
        print(f"role     {role} of {organization}")
    # Shown once: only its argon2id hash is stored.
    print(f"password {password}")
    return 0


def cmd_dead_letters_replay(args: argparse.Namespace) -> int:
    from logsight.queue.replay import replay

    settings = _settings()
    with psycopg.connect(_database_url(settings), autocommit=True) as conn:
        project = _project_id(conn, args.project) if args.project else None
        result = replay(
            conn, settings, project_id=project, ids=args.id or None, all_reasons=args.all
        )
    print(f"replayed {result.replayed}, skipped {result.skipped} that are not LogSight messages")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from logsight.event_schema import write_schema

    path = write_schema(Path(args.output))
    print(f"wrote {path}")
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    # Nothing the runtime or its children create is readable by other users, whether or not
    # the code creating it remembered to say so.
    os.umask(0o077)
    settings = _settings()
    if args.component is None:
        from logsight.local.runtime import Supervisor

        return Supervisor(settings).run()
    from logsight.local import components

    runner = {
        "gateway": components.run_gateway,
        "processor": components.run_processor,
        "scheduler": components.run_scheduler_process,
    }[args.component]
    runner(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logsight", description="LogSight command line")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("maintain", help="create partitions ahead, apply retention").set_defaults(
        func=cmd_maintain
    )
    sub.add_parser("topology", help="declare the broker's exchanges and queues").set_defaults(
        func=cmd_topology
    )
    schema = sub.add_parser("schema", help="write the event JSON Schema")
    schema.add_argument("--output", default="docs/event.schema.json")
    schema.set_defaults(func=cmd_schema)

    project = sub.add_parser("project", help="projects").add_subparsers(
        dest="action", required=True
    )
    create = project.add_parser("create", help="create a project and print its ingest key")
    create.add_argument("name")
    create.add_argument("--retention-days", type=int, default=None)
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(func=cmd_project_create)

    key = sub.add_parser("key", help="ingest keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="create an ingest key for a project")
    key_create.add_argument("project", help="project id or slug")
    key_create.add_argument("--label", default="")
    key_create.add_argument(
        "--origin", action="append", default=[], help="allowed browser origin (repeatable)"
    )
    key_create.set_defaults(func=cmd_key_create)
    key_revoke = key.add_parser("revoke", help="revoke an ingest key")
    key_revoke.add_argument("key")
    key_revoke.set_defaults(func=cmd_key_revoke)
    key_list = key.add_parser("list", help="list a project's ingest keys")
    key_list.add_argument("project", help="project id or slug")
    key_list.set_defaults(func=cmd_key_list)

    user = sub.add_parser("user", help="built-in accounts").add_subparsers(
        dest="action", required=True
    )
    user_create = user.add_parser(
        "create", help="create an account and print its generated password once"
    )
    user_create.add_argument("email")
    user_create.add_argument(
        "--admin", action="store_true", help="owner of the organization (default: default)"
    )
    user_create.add_argument(
        "--organization", metavar="SLUG", help="organization to join (created when missing)"
    )
    user_create.set_defaults(func=cmd_user_create)

    letters = sub.add_parser("dead-letters", help="messages that could not be processed")
    letters_sub = letters.add_subparsers(dest="action", required=True)
    replay = letters_sub.add_parser(
        "replay", help="send dead letters back through the queue (after fixing the cause)"
    )
    replay.add_argument("--project", help="only this project (id or slug)")
    replay.add_argument(
        "--id", type=int, action="append", help="only this dead letter (repeatable)"
    )
    replay.add_argument(
        "--all",
        action="store_true",
        help="any reason, not only the exceeded delivery limit (those may well fail again)",
    )
    replay.set_defaults(func=cmd_dead_letters_replay)

    privacy = sub.add_parser("privacy", help="personal data").add_subparsers(
        dest="action", required=True
    )
    delete_user = privacy.add_parser(
        "delete-user", help="delete one user's events and counts (audited; see the README)"
    )
    scope = delete_user.add_mutually_exclusive_group(required=True)
    scope.add_argument("--project", help="in this project (id or slug)")
    scope.add_argument("--organization", help="in every project of this organization (id or slug)")
    subject = delete_user.add_mutually_exclusive_group(required=True)
    subject.add_argument("--user-id", help="the user id the application sent")
    subject.add_argument("--email", help="the user's e-mail address (hashed forms included)")
    delete_user.add_argument(
        "--queue", action="store_true", help="only queue it for the scheduled function"
    )
    delete_user.set_defaults(func=cmd_privacy_delete_user)
    privacy.add_parser(
        "scrub-dead-letters",
        help="scrub the bytes of dead letters recorded before they were scrubbed on arrival",
    ).set_defaults(func=cmd_privacy_scrub_dead_letters)

    local = sub.add_parser("local", help="run LogSight on this machine")
    local.add_argument(
        "component",
        nargs="?",
        choices=["gateway", "processor", "scheduler"],
        help=argparse.SUPPRESS,
    )
    local.set_defaults(func=cmd_local)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
