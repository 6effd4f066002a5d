"""Enrolling a cameo: validate, find exactly one clear face per photo (all one person), store the cameo, its
encrypted media and encrypted templates in one transaction, then rebuild the template index."""

from __future__ import annotations

from governance.media import Upload
from governance.models import Cameo, Principal
from governance.runtime import Runtime
from governance.services import cameos


def enroll(
    rt: Runtime,
    *,
    owner: Principal,
    visibility: str,
    restrictions: list[str],
    media: list[Upload],
    generation_consent: bool = False,
) -> Cameo:
    limits = {"max_bytes": rt.settings.max_upload_bytes, "max_media": rt.settings.max_cameo_media}
    cameos.validate_fields(visibility, restrictions)
    cameos.check_media(media, **limits)
    # Face checks before anything is stored: a refused enrollment leaves no row and no blob.
    templates = rt.likeness.templates_from_media(media)
    with rt.session() as s:
        cameo, rows = cameos.create_cameo(
            s,
            rt.blobs,
            owner=owner,
            visibility=visibility,
            restrictions=restrictions,
            media=media,
            generation_consent=generation_consent,
            **limits,
        )
        sources = [row.sha256 for _, row in rows]
        if len(templates) != len(sources):  # a video gives several templates from one file
            sources = [sources[0]] * len(templates)
        rt.likeness.store_templates(s, cameo.id, templates, sources)
    with rt.session() as s:
        rt.likeness.refresh(s)
    return cameo
