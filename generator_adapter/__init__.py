"""Video generators: the bundled procedural one and adapters to external services.

The contract (request, result, errors) is in :mod:`generator_adapter.base`; the backends are
:class:`generator_adapter.bundled.BundledGenerator` (offline, no weights) and
:class:`generator_adapter.http.OpenAIVideosGenerator` (any OpenAI-compatible ``/v1/videos`` service).
Backends are imported from their own modules so that importing the contract stays cheap.
"""

from generator_adapter.base import (
    GeneratedVideo,
    GenerationError,
    GenerationRejected,
    GenerationRequest,
    GenerationTimeout,
    GeneratorUnavailable,
    InvalidGenerationRequest,
    InvalidGeneratorOutput,
    Likeness,
    VideoGenerator,
)

__all__ = [
    "GeneratedVideo",
    "GenerationError",
    "GenerationRejected",
    "GenerationRequest",
    "GenerationTimeout",
    "GeneratorUnavailable",
    "InvalidGenerationRequest",
    "InvalidGeneratorOutput",
    "Likeness",
    "VideoGenerator",
]
