"""The running service's shared state: settings, database engine, blob store, data key.

One ``Runtime`` per process (the API app holds one; each CLI command builds one). ``init()`` prepares the
data directory idempotently: folders, migrations, the data key and the log signing key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from generator_adapter.base import VideoGenerator
from generator_adapter.bundled import BundledGenerator
from generator_adapter.http import HttpGeneratorConfig, OpenAIVideosGenerator
from governance import migrate
from governance.blobs import BlobStore
from governance.crypto import DataCipher, load_or_create_key
from governance.db import make_engine, session_scope
from governance.detection import Detection
from governance.likeness import LikenessIndex
from governance.log.keys import KeyRing
from governance.log.service import SignedLog
from governance.settings import Settings


class Runtime:
    def __init__(self, settings: Settings | None = None, *, pooled: bool = True) -> None:
        self.settings = settings or Settings()
        self._pooled = pooled

    @cached_property
    def engine(self) -> Engine:
        self.settings.home_dir.mkdir(parents=True, exist_ok=True)
        if self._pooled:
            return make_engine(self.settings.db_url)
        return make_engine(self.settings.db_url, poolclass=NullPool)

    @cached_property
    def cipher(self) -> DataCipher:
        return load_or_create_key(self.settings.data_key_path)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blobs_dir, self.cipher)

    @cached_property
    def likeness(self) -> LikenessIndex:
        return LikenessIndex(self.cipher, self.settings.index_dir)

    @cached_property
    def detection(self) -> Detection:
        return Detection(
            policy_file=self.settings.policy_file, index_dir=self.settings.index_dir, likeness=self.likeness
        )

    @cached_property
    def log(self) -> SignedLog:
        return SignedLog(
            KeyRing(self.settings.keys_dir / "log", self.settings.log_origin), self.settings.log_origin
        )

    @cached_property
    def generator(self) -> VideoGenerator:
        s = self.settings
        if s.generator == "http":
            if not s.generator_url:
                raise ValueError("RIGHTSGATE_GENERATOR=http needs RIGHTSGATE_GENERATOR_URL")
            return OpenAIVideosGenerator(
                HttpGeneratorConfig(
                    base_url=s.generator_url, model=s.generator_model, api_key=s.generator_api_key
                )
            )
        return BundledGenerator()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as s:
            yield s

    def init(self) -> None:
        home = self.settings.home_dir
        for d in (home, self.settings.blobs_dir, self.settings.keys_dir, self.settings.index_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.settings.keys_dir.chmod(0o700)
        migrate.upgrade(self.engine)
        _ = self.cipher
        self.log.keyring.create_if_missing()

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
