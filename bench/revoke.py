"""Benchmark: the fan-out of a revocation.

One cameo appears in 10,000 published videos of 1,000 requesters (rows made directly, as checks would have
left them). 999 requesters are the owner's mutuals; one holds a grant. We revoke that grant (its 10 videos
come down), then narrow the cameo to ``only_me`` (the other 9,990 come down), each time timing the whole
transaction: finding the videos, deciding, one signed takedown record per video, commit. Then the log is
exported and verified offline.

    .venv/bin/python -m bench.revoke [--videos 10000] [--requesters 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlmodel import col, func, select

from governance.log.export import export, verify_export
from governance.models import (
    Cameo,
    CameoAppearance,
    CameoGrant,
    Check,
    Follow,
    Principal,
    Takedown,
    Video,
    utcnow,
)
from governance.runtime import Runtime
from governance.services import cameos, enforcement, principals
from governance.settings import Settings


def build(rt: Runtime, videos: int, requesters: int) -> tuple[str, str]:
    with rt.session() as s:
        owner, _ = principals.create_principal(s, name="owner", role="person")
        platform, _ = principals.create_principal(s, name="platform", role="platform")
        names = [f"r{i:04d}" for i in range(requesters)]
        s.add_all(Principal(name=n, role="person") for n in names)
        cameo = Cameo(owner_id=owner.id, owner_name="owner", visibility="mutuals", restrictions=[])
        s.add(cameo)
        s.add(CameoGrant(cameo_id=cameo.id, grantee=names[0]))
        for n in names[1:]:
            s.add(Follow(follower=n, followee="owner"))
            s.add(Follow(follower="owner", followee=n))
        s.flush()
        now = utcnow()
        rows = []
        for i in range(videos):
            req = names[i % requesters]
            v = Video(
                sha256=f"{i:064x}",
                requester=req,
                platform_id=platform.id,
                status="published",
                media_type="video/mp4",
                kind="video",
                published_at=now,
            )
            c = Check(
                video_id=v.id,
                platform_id=platform.id,
                requester=req,
                decision="allow",
                policy_digest="0" * 64,
            )
            a = CameoAppearance(
                check_id=c.id, video_id=v.id, cameo_id=cameo.id, requester=req, score=0.8, permitted=True
            )
            rows.append((v, c, a))
        # Parents before children: without ORM relationships the flush does not order by foreign keys.
        for kind in range(3):
            s.add_all(r[kind] for r in rows)
            s.flush()
        return cameo.id, owner.id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--requesters", type=int, default=1_000)
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(Settings(home=Path(tmp) / "home", database_url=args.database_url, env="test"))
        rt.init()
        t0 = time.perf_counter()
        cameo_id, owner_id = build(rt, args.videos, args.requesters)
        took = time.perf_counter() - t0
        print(f"setup: {args.videos} published videos of {args.requesters} requesters in {took:.1f} s")

        with rt.session() as s:
            owner = s.get(Principal, owner_id)
            assert owner is not None
        t0 = time.perf_counter()
        with rt.session() as s:
            cameos.revoke_grant(s, actor=owner, cameo_id=cameo_id, grantee="r0000")
            cameo = s.get(Cameo, cameo_id)
            assert cameo is not None
            first = enforcement.enforce_cameo(
                s, rt.log, cameo=cameo, actor=owner, trigger="grant_revoked", min_score=0.5
            )
        t_revoke = time.perf_counter() - t0
        print(f"revoke one grant:     {first.taken_down:>6} videos taken down in {t_revoke * 1000:8.1f} ms")

        t0 = time.perf_counter()
        with rt.session() as s:
            cameos.update_cameo(s, actor=owner, cameo_id=cameo_id, visibility="only_me", restrictions=None)
            cameo = s.get(Cameo, cameo_id)
            assert cameo is not None
            second = enforcement.enforce_cameo(
                s, rt.log, cameo=cameo, actor=owner, trigger="settings_changed", min_score=0.5
            )
        t_narrow = time.perf_counter() - t0
        print(f"narrow to only_me:    {second.taken_down:>6} videos taken down in {t_narrow * 1000:8.1f} ms")
        total = first.taken_down + second.taken_down
        print(f"whole fan-out:        {total:>6} videos in {(t_revoke + t_narrow):.2f} s (aim < 2 s)")

        with rt.session() as s:
            live = s.exec(
                select(func.count()).select_from(Video).where(col(Video.status) == "published")
            ).one()
            records = s.exec(select(func.count()).select_from(Takedown)).one()
            rt.log.checkpoint(s)
        print(f"still published: {live}; takedown records: {records}")
        t0 = time.perf_counter()
        with rt.session() as s:
            exported = export(s, rt.log, Path(tmp) / "export")
        key = rt.log.keyring.public_key(rt.log.keyring.current_id()).pem()
        result = verify_export(Path(tmp) / "export", [key])
        print(
            f"log export + offline verify: {exported.tree_size} entries, OK tree_size={result.tree_size} "
            f"in {time.perf_counter() - t0:.2f} s"
        )
        rt.close()


if __name__ == "__main__":
    main()
