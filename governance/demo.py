"""``rightsgate demo``: the whole story on real media, in the service's own data directory.

A rights holder opts a work out; two people enroll cameos (one open to everyone, one only for themselves
with a grant to a friend); then generations that are allowed, refused at the prompt, blocked for the work,
blocked for the cameo, and allowed for the friend; the owner revokes the friend's grant and the friend's
published video comes down; the log is exported and verified offline. The data stays, so ``make run``
shows it all at ``/docs``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from governance.log.export import export, verify_export
from governance.media import Upload
from governance.models import Cameo, Generation, Principal
from governance.runtime import Runtime
from governance.services import cameos, enforcement, enrollment, generations, principals, works


@dataclass(frozen=True)
class DemoMedia:
    work: tuple[str, bytes]
    everyone_face: tuple[str, bytes]
    only_me_face: tuple[str, bytes]
    source: str


def _jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def find_media(root: Path) -> DemoMedia:
    """The shared photos when present, else images that scikit-image ships (one face only then)."""
    shared = Path(os.environ.get("RIGHTSGATE_SHARED_DATA", root.parent / "shared" / "data"))
    if (shared / "faces").is_dir():
        return DemoMedia(
            work=("aaa-orig.jpg", (shared / "copies/bridge/aaa-orig.jpg").read_bytes()),
            everyone_face=("biden-1.jpg", (shared / "faces/biden/biden-1.jpg").read_bytes()),
            only_me_face=("obama-1.jpg", (shared / "faces/obama/obama-1.jpg").read_bytes()),
            source=str(shared),
        )
    from skimage import data as skdata

    astronaut = _jpeg(skdata.astronaut())
    return DemoMedia(
        work=("coffee.jpg", _jpeg(skdata.coffee())),
        everyone_face=("astronaut.jpg", astronaut),
        only_me_face=("astronaut.jpg", astronaut),
        source="scikit-image's sample images (../shared/data is absent: one face stands in for both people)",
    )


def run(rt: Runtime, root: Path, say: Callable[[str], None]) -> bool:
    """Run the story; returns False if this data directory already holds a demo."""
    media = find_media(root)
    with rt.session() as s:
        if principals.by_name(s, "demo-studio") is not None:
            home = rt.settings.home_dir
            say(f"A demo already ran in {home}; set RIGHTSGATE_HOME to a fresh folder to run it again.")
            return False
    say(f"rightsgate demo in {rt.settings.home_dir} (media: {media.source})\n")

    def person(name: str, role: str = "person") -> Principal:
        with rt.session() as s:
            p, _ = principals.create_principal(s, name=name, role=role)
        return p

    studio = person("demo-studio", "rights_holder")
    ada, lin = person("ada"), person("lin")
    friend, stranger = person("lin-friend"), person("stranger")
    platform = person("demo-platform", "platform")

    with rt.session() as s:
        view = works.register_work(
            s,
            rt.blobs,
            owner=studio,
            title="The Bridge at Dusk",
            aliases=["Bridge at Dusk"],
            mode="opt_out",
            territories=["*"],
            notes="demo",
            references=[Upload(*media.work)],
            max_bytes=rt.settings.max_upload_bytes,
        )
        works.register_and_enforce(s, rt.detection, rt.log, view, [Upload(*media.work)], actor=studio)
    say(f"1. {studio.name} opted out {view.work.title!r} (work {view.work.id}) with one reference image.")

    def enroll(owner: Principal, photo: tuple[str, bytes], visibility: str) -> Cameo:
        return enrollment.enroll(
            rt,
            owner=owner,
            visibility=visibility,
            restrictions=["political"],
            media=[Upload(*photo)],
            generation_consent=True,
        )

    ada_cameo = enroll(ada, media.everyone_face, "everyone")
    lin_cameo = enroll(lin, media.only_me_face, "only_me")
    with rt.session() as s:
        cameos.grant(s, actor=lin, cameo_id=lin_cameo.id, grantee=friend.name)
    say(f"2. ada enrolled a cameo open to everyone ({ada_cameo.id});")
    say(f"   lin one only for herself ({lin_cameo.id}),")
    say(f"   with a grant to {friend.name}. Both forbid political content.\n")

    def gen(
        label: str, requester: str, prompt: str, cameo_ids: list[str], image: bytes | None = None
    ) -> Generation:
        g = generations.run(
            rt,
            rt.generator,
            caller=platform,
            req=generations.GenerationInput(
                requester=requester, prompt=prompt, cameos=cameo_ids, image=image, seed=42, duration_s=2.0
            ),
        )
        say(f"   {label:<34} -> {g.status.upper():<9} {('; '.join(g.reasons) or 'no rule fired')[:150]}")
        return g

    say("3. Generations through the bundled generator, each screened, checked and (if allowed) published:")
    allowed = gen("a plain prompt", stranger.name, "a paper boat on a calm lake at dawn", [])
    gen("a prompt naming the work", stranger.name, "the bridge at dusk, drone shot", [])
    gen("an input image of the work", stranger.name, "an evening walk", [], image=media.work[1])
    gen("lin's face, for a stranger", stranger.name, "a portrait", [], image=media.only_me_face[1])
    gen("ada's cameo, open to everyone", stranger.name, "ada waves hello", [ada_cameo.id])
    friend_gen = gen(
        "lin's cameo, for her friend", friend.name, "lin and a friend at the beach", [lin_cameo.id]
    )

    with rt.session() as s:
        result = enforcement.revoke_grant(
            s,
            rt.log,
            actor=lin,
            cameo_id=lin_cameo.id,
            grantee=friend.name,
            min_score=rt.detection.policy.faces.match_threshold,
        )
    say(
        f"\n4. lin revoked {friend.name}'s grant: {result.taken_down} video(s) taken down at once "
        f"(the friend's: {friend_gen.video_id}), each with a signed record {result.log_indexes}."
    )

    out = rt.settings.home_dir / "demo-log-export"
    with rt.session() as s:
        rt.log.checkpoint(s)
        exported = export(s, rt.log, out)
    key = rt.log.keyring.public_key(rt.log.keyring.current_id()).pem()
    (out / "trusted.pem").write_bytes(key)
    verified = verify_export(out, [key])
    say(
        f"\n5. The signed log ({exported.tree_size} entries) was exported to {out} and verified offline: "
        f"OK tree_size={verified.tree_size}."
    )
    say(f"   Check it yourself: rightsgate log verify {out} --public-key {out / 'trusted.pem'}")
    if allowed.published_sha256:
        path = rt.settings.home_dir / "demo-published.mp4"
        path.write_bytes(rt.blobs.get(allowed.published_sha256))
        say(f"   A published video with its Content Credentials: rightsgate provenance {path}")
    say("\nThe data stays in place: `make run` serves it at http://127.0.0.1:8000/docs.")
    return True
