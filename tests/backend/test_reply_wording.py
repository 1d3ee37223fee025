"""How an answer is said follows its calibrated confidence: plain when sure, hedged when probable,
"not one of the ten" when unsure, with the article the class name takes."""

import json

import pytest

from backend.services import assistant
from backend.services.views import PredictionView
from backend.web.templating import templates
from ml import LABELS, SURE_CONFIDENCE


def _view(label: str, confidence: float, unsure: bool) -> PredictionView:
    rest = (1 - confidence) / 9
    probs = [confidence if name == label else rest for name in LABELS]
    return PredictionView(id="p1", filename="shoe.jpg", label=label, index=LABELS.index(label), confidence=confidence,
                          probs_json=json.dumps(probs), unsure=unsure, corrected_label=None, model_version="v1",
                          upload_id="u1", conversation_id=None, created_at=None)


def _reply(view: PredictionView) -> str:
    return str(templates.env.get_template("partials/message_macros.html").module.reply(view, "token"))


def test_sure_answer_is_said_plainly_with_its_article():
    html = _reply(_view("Ankle boot", 0.96, unsure=False))
    assert "That's an <strong>Ankle boot</strong> (96%)" in html
    assert 'class="topk sure"' in html
    assert "not one of the ten" not in html
    assert "Answered by model v1" in html  # which model answered, so a retrained one can be told apart


def test_probable_answer_is_hedged_and_its_bars_are_not_green():
    html = _reply(_view("Sneaker", 0.72, unsure=False))
    assert "Probably a <strong>Sneaker</strong> (72%)" in html
    assert 'class="topk probably"' in html and "That's" not in html


def test_unsure_answer_says_it_is_probably_not_one_of_the_ten():
    html = _reply(_view("Sneaker", 0.35, unsure=True))
    assert "I don't think this is one of the ten garments I know" in html
    assert "The closest is a Sneaker (35%)" in html
    assert 'class="topk unsure"' in html and "Probably" not in html


@pytest.mark.parametrize(("confidence", "unsure", "said"), [
    (SURE_CONFIDENCE, False, "sure"), (SURE_CONFIDENCE - 0.01, False, "probably"), (0.3, True, "unsure")])
def test_certainty_is_one_rule_for_reply_and_assistant(confidence, unsure, said):
    view = _view("T-shirt/top", confidence, unsure)
    assert view.certainty == said
    explained = assistant.reply("what does that mean?", view)
    if said == "unsure":
        assert "too low for me to say it is one of the ten" in explained
    else:
        assert ("“probably T-shirt/top”" in explained) == (said == "probably")
        assert f"about {confidence * 100:.0f}% of the answers I give at this confidence were right" in explained
