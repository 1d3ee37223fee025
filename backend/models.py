"""Database tables. Every row carries its owner (an anonymous browser or an API key), and
every query filters on it: nobody reads what is not theirs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Conversation(SQLModel, table=True):
    __table_args__ = (Index("ix_conversation_owner_updated", "owner", "updated_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner: str = Field(max_length=80)
    title: str = Field(default="New chat", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # set while the owner shares the thread read-only at /s/{share_token}; None when not shared
    share_token: str | None = Field(default=None, max_length=64, index=True, unique=True)


class Upload(SQLModel, table=True):
    """One file a user sent. The bytes live content-addressed under data_dir (sha256)."""

    __table_args__ = (Index("ix_upload_owner_created", "owner", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner: str = Field(max_length=80)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=40)
    size_bytes: int
    width: int
    height: int
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    __table_args__ = (Index("ix_message_conversation_created", "conversation_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", ondelete="CASCADE", max_length=32)
    role: str = Field(max_length=16)  # "user" | "assistant"
    kind: str = Field(max_length=16)  # "text" | "image" | "prediction" | "error"
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    upload_id: str | None = Field(default=None, foreign_key="upload.id", ondelete="SET NULL", max_length=32)
    prediction_id: str | None = Field(
        default=None, foreign_key="prediction.id", ondelete="SET NULL", max_length=32
    )
    created_at: datetime = Field(default_factory=utcnow)


class Prediction(SQLModel, table=True):
    __table_args__ = (
        Index("ix_prediction_owner_created", "owner", "created_at"),
        Index("ix_prediction_owner_label_confidence", "owner", "label", "confidence"),  # covers the charts
        Index("ix_prediction_owner_confidence", "owner", "confidence"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner: str = Field(max_length=80)
    upload_id: str = Field(foreign_key="upload.id", ondelete="CASCADE", max_length=32)
    conversation_id: str | None = Field(
        default=None, foreign_key="conversation.id", ondelete="SET NULL", max_length=32
    )
    filename: str = Field(max_length=255)
    label: str = Field(max_length=20)
    label_index: int
    confidence: float
    probs_json: str = Field(sa_column=Column(Text, nullable=False))
    unsure: bool = False
    corrected_label: str | None = Field(default=None, max_length=20)
    model_version: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def probs(self) -> list[float]:
        return json.loads(self.probs_json)


class Feedback(SQLModel, table=True):
    """Every correction a user made, kept even when corrected again."""

    id: int | None = Field(default=None, primary_key=True)
    prediction_id: str = Field(foreign_key="prediction.id", ondelete="CASCADE", max_length=32, index=True)
    owner: str = Field(max_length=80)
    correct_label: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class OwnerRevision(SQLModel, table=True):
    """A number raised in the same transaction as every change to an owner's predictions, so a
    worker can tell in one primary-key read whether what it derived from them is still current."""

    __tablename__ = "owner_revision"

    owner: str = Field(primary_key=True, max_length=80)
    revision: int = Field(default=0)
