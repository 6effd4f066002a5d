"""One settings class for the whole service, read from ``RIGHTSGATE_*`` environment variables.

Development (the default) runs on embedded defaults: SQLite and files under ``RIGHTSGATE_HOME``. Any other
environment refuses the defaults that are only safe on a developer's machine.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LOG_ORIGIN = "rightsgate.local/log"


class InsecureSettingsError(ValueError):
    """A development-only default was left in place outside development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIGHTSGATE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Path("var")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home")
    policy_path: Path | None = Field(default=None, description="policies.yaml; default: the bundled one")
    log_origin: str = DEFAULT_LOG_ORIGIN

    # Upload limits: a request over any of them is refused with 413 before anything is stored.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_files_per_request: int = 20
    max_cameo_media: int = 10

    # The video generator behind POST /v1/generations: the bundled one, or an OpenAI-compatible Videos API.
    generator: Literal["bundled", "http"] = "bundled"
    generator_url: str | None = None
    generator_model: str = "sora-2"
    generator_api_key: str | None = Field(default=None, repr=False)

    # Timed jobs (reinstatements, webhook retries) run in the server every this many seconds; 0 = off.
    jobs_interval_s: float = 5.0

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.log_origin == DEFAULT_LOG_ORIGIN:
            problems.append("RIGHTSGATE_LOG_ORIGIN must name this deployment's log (not the default)")
        if self.database_url is None:
            problems.append("RIGHTSGATE_DATABASE_URL must be set explicitly")
        if not self.home.is_absolute():
            problems.append("RIGHTSGATE_HOME must be an absolute path")
        if problems:
            raise InsecureSettingsError("insecure settings for production: " + "; ".join(problems))
        return self

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'rightsgate.db'}"

    @property
    def blobs_dir(self) -> Path:
        return self.home_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.home_dir / "keys"

    @property
    def index_dir(self) -> Path:
        return self.home_dir / "index"

    @property
    def data_key_path(self) -> Path:
        return self.keys_dir / "data.key"

    @property
    def policy_file(self) -> Path:
        if self.policy_path is not None:
            return self.policy_path
        return Path(__file__).resolve().parent.parent / "policies.yaml"
