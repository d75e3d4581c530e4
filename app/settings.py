"""Service settings, read once from the environment (prefix ``BACKPROP_``).

Every field can be set as an environment variable named ``BACKPROP_`` + the field
name in upper case, e.g. ``BACKPROP_MAX_SESSIONS=200``. The README's settings table
lists them all (tests/test_docs.py keeps it in step with this file).
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKPROP_", frozen=True)

    session_ttl_seconds: int = Field(
        7200, gt=0, description="A session idle for this long is forgotten."
    )
    max_sessions: int = Field(1000, gt=0, description="Sessions kept in memory at once.")
    max_hidden_layers: int = Field(16, gt=0, description="Hidden layers a network may have.")
    max_units: int = Field(64, gt=0, description="Units a layer may have.")
    max_samples: int = Field(2000, gt=0, description="Samples a data set may have.")
    max_steps_per_call: int = Field(10000, gt=0, description="SGD steps one request may ask for.")
    train_time_limit_seconds: float = Field(
        2.0, gt=0, allow_inf_nan=False, description="Wall time one training request may use."
    )
    max_grid_resolution: int = Field(
        101, gt=1, description="Points per axis of a decision-boundary grid."
    )
    max_history_points: int = Field(
        4096, gt=0, description="Points of loss / gradient history kept per session."
    )
    undo_depth: int = Field(50, ge=0, description="Steps that can be undone.")
    max_undo_bytes: int = Field(
        4_000_000,
        gt=0,
        description="Memory one session's undo snapshots may use; big networks get fewer.",
    )
    max_body_bytes: int = Field(
        1_000_000, gt=0, description="Largest request body accepted, in bytes."
    )
    max_gradcheck_weights: int = Field(
        5000, gt=0, description="Largest network a gradient check will run on (weights)."
    )
    max_followers_per_session: int = Field(
        250,
        gt=0,
        description="Follow-mode viewers one shared session may have at once (per worker).",
    )
    max_followers: int = Field(
        2000,
        gt=0,
        description="Follow-mode viewers the whole server may have at once (per worker).",
    )
    follow_buffer_bytes: int = Field(
        250_000,
        gt=0,
        description="Bytes of events a shared run keeps for reconnecting viewers, and queues "
        "per viewer; a viewer further behind skips to a fresh picture.",
    )
    max_batch: int = Field(
        256, gt=0, description="Examples in one mini-batch: the batch size B and a step's indices."
    )
    max_session_bytes: int = Field(
        8_000_000,
        gt=0,
        description="Memory one session may use: weights, undo, history, the steps it keeps, "
        "its data and its follow buffer.",
    )
    max_response_bytes: int = Field(
        8_000_000, gt=0, description="Largest JSON answer (a step, a grid, a history), in bytes."
    )
    gradcheck_time_limit_seconds: float = Field(
        2.0, gt=0, allow_inf_nan=False, description="Wall time one gradient check may use."
    )
    max_connections: int = Field(
        4000,
        gt=0,
        description="Open connections (follow streams included) the server serves at once; "
        "requests past it are answered 503 at once.",
    )
    keep_alive_seconds: float = Field(
        5.0, gt=0, allow_inf_nan=False, description="An idle connection is closed after this."
    )
    body_timeout_seconds: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        description="A request body that has not arrived within this is refused (408).",
    )
    redis_url: str | None = Field(
        None,
        description="Keep sessions in this Redis (redis://host:6379/0) instead of in the "
        "process: runs survive restarts, and several workers or hosts share them.",
    )
    compute_threads: int = Field(
        2,
        gt=0,
        description="Long computations (fast-forward, gradient check, grid, big steps) run at "
        "once; more wait their turn, and short requests never wait for them.",
    )


@lru_cache
def get_settings() -> Settings:
    """The settings from the environment, read on first use and then cached."""
    return Settings()
