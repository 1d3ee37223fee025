"""The chat's small rule-based assistant: answers text messages about what the app can do.
No language model: a few intents matched by keywords, each with a useful reply."""

from __future__ import annotations

import re

from ml import LABELS


def percent(value: float) -> str:
    """As the replies show it: "<1%" rather than a runner-up at "0%"."""
    if value >= 0.995:  # never "100%": no answer is certain
        return ">99%"
    return f"{value * 100:.0f}%" if value >= 0.01 else "<1%"

HELP = (
    "Send me a photo of one garment (drop it here, paste it, or use the camera button) and I'll "
    "tell you which of the ten Fashion-MNIST classes it is, how sure I am, and the runners-up. "
    "Ask “which classes?” for the list, or “what does that mean?” about my last answer."
)


def _classes() -> str:
    return "I know ten kinds of garment: " + ", ".join(LABELS) + ". Anything else I'll call unsure."


def _explain_last(last) -> str:
    if last is None:
        return "I haven't classified anything in this chat yet. Send a photo and ask me again."
    runners = ", ".join(f"{label} {percent(score)}" for label, score in last.top_k[1:])
    shown = percent(last.confidence)
    if last.certainty == "unsure":
        return (
            f"My closest match for “{last.filename}” was {last.label}, at only {shown}: too low for me to say "
            "it is one of the ten garments I know. It may be something else (a hat, a bag of another kind), or "
            f"the photo may be hard to read (busy background, several items, odd angle). Runners-up: {runners}. "
            "Try a photo of the garment alone on a plain background."
        )
    hedge = "" if last.certainty == "sure" else "probably "
    return (
        f"I said “{hedge}{last.label}” for “{last.filename}” at {shown}: on photos I had not trained on, "
        f"about {shown} of the answers I give at this confidence were right. Runners-up: {runners}. "
        "If I'm wrong, use “wrong? pick the right class” under the answer."
    )


_RULES = [
    (re.compile(r"\b(hi|hello|hey|good (morning|afternoon|evening))\b"), lambda last: "Hello! " + HELP),
    (re.compile(r"\b(class(es)?|categor|labels?|know|recogni[sz]e|which garments?)\b"), lambda last: _classes()),
    (re.compile(r"\b(mean|why|explain|sure|confiden|last answer|that)\b"), _explain_last),
    (re.compile(r"\b(thanks?|thank you|cheers)\b"), lambda last: "You're welcome. Send another photo any time."),
    (re.compile(r"\b(wrong|incorrect|mistake|correct)\b"),
     lambda last: "Click “wrong? pick the right class” under my answer and choose the right one: "
                  "I keep your corrections, and they are on the History page to review or export."),
    (re.compile(r"\b(history|export|download|csv)\b"),
     lambda last: "Everything you sent is on the History page: filter, correct, delete, and export "
                  "it as CSV, JSON or a zip of corrected images."),
    (re.compile(r"\b(help|how|what can you|\?)"), lambda last: HELP),
]


def reply(text: str, last_prediction=None) -> str:
    lowered = text.lower()
    for pattern, answer in _RULES:
        if pattern.search(lowered):
            return answer(last_prediction)
    return "I only understand photos of clothes and a few questions. " + HELP
