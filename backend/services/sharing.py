"""A conversation shared read-only: an unguessable token its owner can make and revoke. Through it
anyone sees that thread and its photos, and nothing else of the owner's."""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from backend.core.errors import NotFound
from backend.models import Conversation, Message, Upload
from backend.services import chat

TOKEN_BYTES = 24  # 192 bits, 32 URL-safe characters


def share(session: Session, owner: str, conversation_id: str) -> Conversation:
    """The owner's conversation with a share token (an existing one is kept)."""
    conversation = chat.get_conversation(session, owner, conversation_id)
    if not conversation.share_token:
        conversation.share_token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(conversation)
        session.commit()
    return conversation


def unshare(session: Session, owner: str, conversation_id: str) -> Conversation:
    """Revoke: the old link answers 404 from now on (sharing again makes a new one)."""
    conversation = chat.get_conversation(session, owner, conversation_id)
    conversation.share_token = None
    session.add(conversation)
    session.commit()
    return conversation


def shared(session: Session, token: str) -> Conversation:
    if not token or len(token) > 64:
        raise NotFound("no such shared conversation")
    conversation = session.exec(select(Conversation).where(Conversation.share_token == token)).first()
    if conversation is None:
        raise NotFound("no such shared conversation")
    return conversation


def shared_upload(session: Session, conversation: Conversation, upload_id: str) -> Upload:
    """A photo of the shared thread; any other upload, the owner's included, is 404."""
    found = session.exec(select(Upload).join(Message, Message.upload_id == Upload.id).where(
        Message.conversation_id == conversation.id, Upload.id == upload_id,
        Upload.owner == conversation.owner)).first()
    if found is None:
        raise NotFound("no such image")
    return found
