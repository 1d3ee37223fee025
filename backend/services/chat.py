"""Conversations and their messages: create, list, rename, delete, send photos and text."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete as sa_delete
from sqlalchemy import or_
from sqlmodel import Session, col, select

from backend.core.config import Settings
from backend.core.db import get_owned
from backend.core.errors import BadForm, ClosetChatError
from backend.models import Conversation, Message, Prediction, Upload, utcnow
from backend.services import assistant, predictions
from backend.services.inference import InferenceEngine
from backend.services.multipart import IncomingFile
from backend.services.views import PredictionView
from ml import LABELS

TITLE_MAX = 80
CAPTION_MAX = 200  # characters of a photo's caption (kept in its image message's text)


@dataclass
class Bubble:
    """One message as the thread shows it; error bubbles are shown once and never stored."""

    role: str
    kind: str
    text: str = ""
    upload: Upload | None = None
    prediction: PredictionView | None = None


@dataclass
class SendResult:
    conversation: Conversation | None = None  # where the message went (a new one is stored only if something was)
    bubbles: list[Bubble] = field(default_factory=list)
    errors: list[ClosetChatError] = field(default_factory=list)
    stored: int = 0
    sidebar_changed: bool = False  # the conversation list's order or a title moved

    @property
    def status_code(self) -> int:
        """4xx when nothing could be answered, else 200 (errors still shown beside answers)."""
        if self.errors and not self.stored:
            return self.errors[0].status_code
        return 200


def list_conversations(session: Session, owner: str, limit: int = 100, search: str = "") -> list[Conversation]:
    """The owner's conversations, latest first; with search, those whose title holds it or with
    a photo answered (or corrected) as a class whose name holds it."""
    statement = select(Conversation).where(Conversation.owner == owner)
    search = " ".join(search.split())[:TITLE_MAX]
    if search:
        classes = [label for label in LABELS if search.lower() in label.lower()]
        answered = select(Prediction.conversation_id).where(
            Prediction.owner == owner, col(Prediction.conversation_id).is_not(None),
            or_(col(Prediction.label).in_(classes), col(Prediction.corrected_label).in_(classes)))
        statement = statement.where(or_(col(Conversation.title).icontains(search, autoescape=True),
                                        col(Conversation.id).in_(answered)))
    return list(session.exec(statement.order_by(col(Conversation.updated_at).desc()).limit(limit)))


def get_conversation(session: Session, owner: str, conversation_id: str) -> Conversation:
    return get_owned(session, Conversation, conversation_id, owner, "conversation")


def rename(session: Session, owner: str, conversation_id: str, title: str) -> Conversation:
    conversation = get_conversation(session, owner, conversation_id)
    title = " ".join(title.split())[:TITLE_MAX]
    if not title:
        raise BadForm("a conversation needs a name")
    conversation.title = title
    session.add(conversation)
    session.commit()
    return conversation


def delete_conversation(session: Session, owner: str, conversation_id: str) -> None:
    """Delete the thread and its messages; its predictions stay in the history, unlinked."""
    conversation = get_conversation(session, owner, conversation_id)
    session.exec(sa_delete(Message).where(col(Message.conversation_id) == conversation.id))
    session.delete(conversation)
    session.commit()


def thread(session: Session, conversation: Conversation) -> list[Bubble]:
    rows = session.exec(
        select(Message, Upload, Prediction)
        .join(Upload, col(Message.upload_id) == Upload.id, isouter=True)
        .join(Prediction, col(Message.prediction_id) == Prediction.id, isouter=True)
        .where(Message.conversation_id == conversation.id)
        .order_by(col(Message.created_at), col(Message.id))
    ).all()
    return [Bubble(role=m.role, kind=m.kind, text=m.text, upload=u, prediction=PredictionView.of(p) if p else None)
            for m, u, p in rows]


def last_prediction(session: Session, conversation: Conversation) -> PredictionView | None:
    row = session.exec(
        select(Prediction).where(Prediction.conversation_id == conversation.id, Prediction.owner == conversation.owner)
        .order_by(col(Prediction.created_at).desc()).limit(1)
    ).first()
    return PredictionView.of(row) if row else None


def check_message(text: str, files: list, settings: Settings) -> None:
    """A 422 for a message too long or empty."""
    text = text.strip()
    if len(text) > settings.max_text_chars:
        raise BadForm(f"that message is too long: at most {settings.max_text_chars:,} characters")
    if not text and not files:
        raise BadForm("send a photo or type a message")


def _is_newest(session: Session, conversation: Conversation) -> bool:
    newest = session.exec(select(Conversation.id).where(Conversation.owner == conversation.owner)
                          .order_by(col(Conversation.updated_at).desc()).limit(1)).first()
    return newest == conversation.id


def clean_caption(caption: str) -> str:
    return " ".join(caption.split())[:CAPTION_MAX]


def send(session: Session, owner: str, conversation_id: str | None, text: str, files: list[IncomingFile],
         settings: Settings, engine: InferenceEngine, captions: list[str] | None = None) -> SendResult:
    """A user's message: optional text, any number of photos (each with an optional caption,
    captions[i] for files[i]), to a conversation of this owner's (conversation_id) or a new one
    (None). Stores what was accepted in one commit (a new conversation only then) and returns
    the bubbles for the thread."""
    conversation = get_conversation(session, owner, conversation_id) if conversation_id else None  # 404 first
    check_message(text, files, settings)
    answers = predictions.classify(files, settings, engine)
    was_on_top = conversation is not None and _is_newest(session, conversation)
    conversation = conversation or Conversation(owner=owner)
    result = SendResult(conversation=conversation)
    text = text.strip()
    messages: list[tuple[Message, Bubble]] = []
    if text:
        messages.append(_message(conversation, "user", "text", text=text))
    stored = predictions.make_rows(answers, owner, conversation.id)
    captions = [clean_caption(c) for c in captions or []]
    for i, answer in enumerate(answers):
        if answer.error is not None:
            result.errors.append(answer.error)
        else:
            caption = captions[i] if i < len(captions) else ""
            messages.append(_message(conversation, "user", "image", text=caption, upload=answer.upload))
            messages.append(_message(conversation, "assistant", "prediction", prediction=answer.prediction))
    if text:
        latest = PredictionView.of(stored[-1].prediction) if stored else last_prediction(session, conversation)
        messages.append(_message(conversation, "assistant", "text", text=assistant.reply(text, latest)))
    result.stored = len(stored) + bool(text)
    result.bubbles = [bubble for _, bubble in messages] + [
        Bubble(role="assistant", kind="error", text=error.message) for error in result.errors]
    if not messages:
        return result
    more = f" and {len(stored) - 1} more" if len(stored) > 1 else ""
    title = _auto_title(session, conversation, stored[0].prediction.label + more if stored else text)
    result.sidebar_changed = not was_on_top or conversation.title != title
    conversation.title, conversation.updated_at = title, utcnow()
    predictions.store(session, owner, answers, settings, conversation, [message for message, _ in messages])
    return result


def _auto_title(session: Session, conversation: Conversation, first_words: str) -> str:
    """A new conversation is named after what was first sent in it, numbered when the owner
    already has one of that name ("Ankle boot", "Ankle boot (2)")."""
    if conversation.title != "New chat" or not first_words:
        return conversation.title
    base = first_words[:TITLE_MAX]
    stem = base[: TITLE_MAX - 6]
    taken = set(session.exec(select(Conversation.title).where(
        Conversation.owner == conversation.owner, col(Conversation.title).startswith(stem, autoescape=True))))
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{stem if len(base) > TITLE_MAX - 6 else base} ({n})"
    return title


def _message(conversation: Conversation, role: str, kind: str, text: str = "", upload: Upload | None = None,
             prediction: Prediction | None = None) -> tuple[Message, Bubble]:
    """A message row and the bubble that shows it."""
    message = Message(conversation_id=conversation.id, role=role, kind=kind, text=text,
                      upload_id=upload.id if upload else None, prediction_id=prediction.id if prediction else None)
    view = PredictionView.of(prediction) if prediction else None
    return message, Bubble(role=role, kind=kind, text=text, upload=upload, prediction=view)
