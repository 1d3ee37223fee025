"""The chat over real HTTP (TestClient), the real model and a fresh SQLite per test."""

import io
import re

from PIL import Image
from sqlmodel import Session, select

from backend.models import Conversation, Message, Prediction, Upload
from tests.conftest import csrf_of, fashion_png, jpeg_bytes, stored_keys

HX = {"HX-Request": "true"}


def _new_conversation(client, token, files, text=""):
    r = client.post("/c", data={"csrf_token": token, "text": text}, files=files, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_home_sets_a_signed_httponly_samesite_cookie(client):
    r = client.get("/")
    assert r.status_code == 200 and "What garment is this?" in r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert 'accept="image/*"' in r.text and "capture=" in r.text and "multiple" in r.text



def test_only_pages_that_need_the_browser_id_send_the_cookie(client, fashion_test):
    """Scripts, health checks and static files get no cookie; a page gets one, once."""
    seed = client.post("/fashion-mnist", files={"file": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    assert seed.status_code == 200 and "set-cookie" not in seed.headers
    assert "set-cookie" not in client.get("/healthz").headers
    assert "set-cookie" not in client.get("/static/app.js").headers
    assert "set-cookie" in client.get("/").headers
    assert "set-cookie" not in client.get("/").headers  # the browser sent it back

def test_photo_gets_an_answer_and_survives_restart(make_client, settings, fashion_test):
    client = make_client(settings)
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("boot.png", fashion_png(fashion_test, 0), "image/png")})
    page = client.get(url).text
    assert "Ankle boot" in page and "boot.png" in page and "<meter" in page
    cookies = dict(client.cookies)
    # a new app on the same data dir (a server restart) shows the same thread to the same browser
    again = make_client(settings, cookies=cookies)
    assert "Ankle boot" in again.get(url).text


def test_htmx_send_returns_bubbles_with_thumbnail_reply_and_feedback(client, fashion_test):
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("first.png", fashion_png(fashion_test, 1), "image/png")})
    r = client.post(url + "/messages", data={"csrf_token": token},
                    files=[("files", ("a.png", fashion_png(fashion_test, 2), "image/png")),
                           ("files", ("b.jpg", jpeg_bytes(), "image/jpeg"))], headers=HX)
    assert r.status_code == 200
    assert r.text.count('class="bubble user image"') == 2 and r.text.count('class="reply"') == 2
    thumb = re.search(r'src="(/media/[0-9a-f]+/thumb)"', r.text).group(1)
    t = client.get(thumb)
    assert t.status_code == 200 and t.headers["content-type"] == "image/jpeg" and t.content[:2] == b"\xff\xd8"
    assert "Wrong? Pick the right class" in r.text


def test_a_big_photo_keeps_its_size_and_gets_a_full_thumbnail(client):
    """Decoded small for the model, yet the row has the photo's real size and the thumbnail is
    made at thumbnail scale, not blown up from the model's small decode."""
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("big.jpg", jpeg_bytes(size=(1200, 1600)), "image/jpeg")})
    thumb = re.search(r'src="(/media/[0-9a-f]+/thumb)"', client.get(url).text).group(1)
    with Image.open(io.BytesIO(client.get(thumb).content)) as img:
        assert max(img.size) == 320 and img.size == (240, 320)
    with Session(client.app.state.db) as s:
        upload = s.exec(select(Upload).where(Upload.filename == "big.jpg")).one()
    assert (upload.width, upload.height) == (1200, 1600)


def test_sidebar_is_sent_again_only_when_it_changes(client, fashion_test):
    token = csrf_of(client)
    first = _new_conversation(client, token, {"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    second = _new_conversation(client, token, {"files": ("b.png", fashion_png(fashion_test, 1), "image/png")})

    def send(url):
        r = client.post(url + "/messages", data={"csrf_token": token, "text": "thanks"}, headers=HX)
        assert r.status_code == 200
        return r.text

    moved = send(first)  # the first conversation rises above the second: the list comes along
    sidebar = moved[moved.index('id="conversation-list"'):]
    assert sidebar.index(first) < sidebar.index(second)
    assert 'id="conversation-list"' not in send(first)  # already on top, same title: nothing to redo
    assert 'id="conversation-list"' in send(second)


def test_text_messages_get_rule_based_answers(client, fashion_test):
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("x.png", fashion_png(fashion_test, 0), "image/png")})
    r = client.post(url + "/messages", data={"csrf_token": token, "text": "which classes do you know?"}, headers=HX)
    assert "Ankle boot" in r.text and "T-shirt/top" in r.text
    r = client.post(url + "/messages", data={"csrf_token": token, "text": "what does that mean?"}, headers=HX)
    assert "x.png" in r.text and "confidence" in r.text


def test_errors_show_in_thread_with_4xx_and_store_nothing(client, settings):
    token = csrf_of(client)
    cases = [
        (("x.jpg", b"not an image at all", "image/jpeg"), 415),
        (("empty.jpg", b"", "image/jpeg"), 422),
        (("cut.jpg", jpeg_bytes()[:300], "image/jpeg"), 422),
        (("big.jpg", b"\xff\xd8" + b"0" * (6 * 1024 * 1024), "image/jpeg"), 413),
    ]
    for file, status in cases:
        r = client.post("/c", data={"csrf_token": token}, files={"files": file}, headers=HX)
        assert r.status_code == status, (file[0], r.status_code, r.text)
        assert 'class="bubble assistant error"' in r.text
    with Session(client.app.state.db) as s:
        assert s.exec(select(Conversation)).all() == [] and s.exec(select(Upload)).all() == []
    assert stored_keys(settings, "uploads") == []
    assert not any(p.is_file() for p in settings.incoming_dir.rglob("*"))


def test_plain_form_post_without_javascript(client, fashion_test):
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token}, files={"files": ("p.png", fashion_png(fashion_test, 3), "image/png")})
    assert r.status_code == 200 and r.url.path.startswith("/c/") and "p.png" in r.text  # redirect followed
    r = client.post("/c", data={"csrf_token": token}, files={"files": ("bad.png", b"nope", "image/png")})
    assert r.status_code == 415 and "not an image" in r.text and "<html" in r.text


def test_csrf_token_is_required(client, fashion_test):
    r = client.post("/c", data={"csrf_token": "forged"}, files={"files": ("p.png", fashion_png(fashion_test, 0), "image/png")})
    assert r.status_code == 403


def test_other_browser_sees_nothing(make_client, settings, fashion_test):
    alice = make_client(settings)
    token = csrf_of(alice)
    url = _new_conversation(alice, token, {"files": ("secret.png", fashion_png(fashion_test, 0), "image/png")})
    thumb = re.search(r'src="(/media/[0-9a-f]+/thumb)"', alice.get(url).text).group(1)
    pid = re.search(r'/predictions/([0-9a-f]+)/feedback', alice.get(url).text).group(1)
    bob = make_client(settings)
    assert bob.get(url).status_code == 404
    assert bob.get(thumb).status_code == 404
    assert bob.get(thumb.replace("thumb", "image")).status_code == 404
    assert "secret.png" not in bob.get("/").text and "secret.png" not in bob.get("/history").text
    bob_token = csrf_of(bob)
    assert bob.post(url + "/messages", data={"csrf_token": bob_token, "text": "hi"}).status_code == 404
    engine = bob.app.state.inference
    classified = engine.images
    photo = {"files": ("p.jpg", jpeg_bytes(), "image/jpeg")}
    assert bob.post(url + "/messages", data={"csrf_token": bob_token}, files=photo).status_code == 404
    assert engine.images == classified  # refused before any photo work
    assert bob.post(f"/predictions/{pid}/feedback", data={"csrf_token": bob_token, "label": "Bag"}).status_code == 404
    assert bob.post(url + "/delete", data={"csrf_token": bob_token}).status_code == 404


def test_forged_cookie_gets_a_fresh_identity(client, fashion_test):
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    cookie = client.cookies.get("closetchat_id")
    client.cookies.set("closetchat_id", cookie[:-3] + "AAA")
    assert client.get(url).status_code == 404


def test_file_names_and_text_are_escaped(client, fashion_test):
    token = csrf_of(client)
    name = "<img src=x onerror=alert(1)>.png"
    url = _new_conversation(client, token, {"files": (name, fashion_png(fashion_test, 0), "image/png")},
                            text="<script>alert(2)</script>")
    page = client.get(url).text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "<script>alert(2)" not in page


def test_rename_list_and_delete_conversation(client, fashion_test):
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    r = client.post(url + "/rename", data={"csrf_token": token, "title": "My boots"})
    assert "My boots" in r.text
    r = client.post(url + "/delete", data={"csrf_token": token})
    assert r.status_code == 200 and "My boots" not in r.text
    assert client.get(url).status_code == 404
    with Session(client.app.state.db) as s:
        assert s.exec(select(Message)).all() == []
        assert len(s.exec(select(Prediction)).all()) == 1  # still in the history


def test_feedback_is_stored_and_shown(client, fashion_test):
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    pid = re.search(r'/predictions/([0-9a-f]+)/feedback', client.get(url).text).group(1)
    r = client.post(f"/predictions/{pid}/feedback", data={"csrf_token": token, "label": "Sneaker"}, headers=HX)
    assert r.status_code == 200 and "You said it's a <strong>Sneaker</strong>" in r.text
    r = client.post(f"/predictions/{pid}/feedback", data={"csrf_token": token, "label": "Hat"}, headers=HX)
    assert r.status_code == 422


def test_security_headers(client):
    r = client.get("/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_request_gives_its_database_connection_back(client, fashion_test):
    """After pages, a send, an export, a refused form and a 404, no connection is still checked out."""
    pool = client.app.state.db.pool
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    assert client.post(url + "/messages", data={"csrf_token": token},
                       files={"files": ("b.png", fashion_png(fashion_test, 1), "image/png")}, headers=HX).status_code == 200
    assert client.get(url).status_code == 200 and client.get("/history").status_code == 200
    assert client.get("/history/export.csv").status_code == 200
    assert client.post(url + "/messages", data={"csrf_token": "wrong"}, headers=HX).status_code == 403
    assert client.get("/c/" + "0" * 32).status_code == 404
    assert client.post("/c/" + "0" * 32 + "/messages", data={"csrf_token": token, "text": "hi"}, headers=HX).status_code == 404
    assert pool.checkedout() == 0


def test_sends_of_one_or_more_photos_answer_as_the_classifier_and_store_each(client, classifier):
    """A JPEG, a PNG or two photos at once: each reply is the classifier's answer, each is kept in
    the thread; a damaged photo is refused and stores nothing."""
    from ml import open_image

    token = csrf_of(client)
    small = jpeg_bytes(size=(400, 534), colour=(150, 40, 40))
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes(size=(300, 300)))).save(buffer, "PNG")
    png = buffer.getvalue()
    first = client.post("/c", data={"csrf_token": token}, files={"files": ("first.png", png)}, follow_redirects=False)
    url = first.headers["location"] + "/messages"
    local = classifier.predict([open_image(small)])[0]
    replies = []
    for files in ([("files", ("a.jpg", small))], [("files", ("b.png", png))],
                  [("files", ("c.jpg", small)), ("files", ("d.jpg", small))]):
        r = client.post(url, data={"csrf_token": token}, files=files, headers=HX)
        assert r.status_code == 200 and r.text.count('class="reply"') == len(files)
        replies.append(r.text)
    assert local.label in replies[0] and f"{local.confidence * 100:.0f}%" in replies[0]
    stored = client.get(first.headers["location"]).text
    assert "a.jpg" in stored and "b.png" in stored and stored.count('class="reply"') == 5

    broken = client.post(url, data={"csrf_token": token}, files={"files": ("x.jpg", small[: len(small) // 2])}, headers=HX)
    assert broken.status_code == 422 and "damaged" in broken.text
    assert client.get(first.headers["location"]).text.count('class="reply"') == 5  # nothing stored


def test_auto_titles_are_numbered_when_taken(client, fashion_test):
    """Two chats that start with an Ankle boot are "Ankle boot" and "Ankle boot (2)"."""
    token = csrf_of(client)
    for _ in range(3):
        client.post("/c", data={"csrf_token": token}, files={"files": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    page = client.get("/").text
    assert re.findall(r'<li><a href="/c/[0-9a-f]+"\s*>([^<]+)</a>', page) == ["Ankle boot (3)", "Ankle boot (2)", "Ankle boot"]


def test_deleting_one_answer_from_the_chat_is_owner_only(make_client, settings, fashion_test):
    alice = make_client(settings)
    token = csrf_of(alice)
    r = alice.post("/c", data={"csrf_token": token}, files={"files": ("a.png", fashion_png(fashion_test, 0), "image/png")})
    pid = re.search(r"/predictions/([0-9a-f]+)/delete", r.text).group(1)
    bob = make_client(settings)
    assert bob.post(f"/predictions/{pid}/delete", data={"csrf_token": csrf_of(bob)}).status_code == 404
    assert alice.post(f"/predictions/{pid}/delete", data={"csrf_token": "wrong"}).status_code == 403
    gone = alice.post(f"/predictions/{pid}/delete", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert gone.status_code == 200 and 'hx-swap-oob="delete"' in gone.text
    assert "a.png" not in alice.get("/history").text


def test_ask_an_earlier_models_answer_again(client, fashion_test):
    """An answer by a model no longer serving says so and can be asked again: a second answer on
    the same photo, which stays until its last answer is deleted."""
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("again.png", fashion_png(fashion_test, 2), "image/png")})
    assert "Ask the current model" not in client.get(url).text  # answered by the model serving now
    with Session(client.app.state.db) as s:
        old = s.exec(select(Prediction)).one()
        old.model_version = "closetnet-older"
        s.add(old)
        s.commit()
        old_id, upload_id = old.id, old.upload_id
    page = client.get(url).text
    assert "Answered by an earlier model, closetnet-older" in page and "Ask the current model" in page
    r = client.post(f"/predictions/{old_id}/again", data={"csrf_token": token}, headers=HX)
    assert r.status_code == 200 and 'class="reply"' in r.text and "Trouser" in r.text
    assert "earlier model" not in r.text
    with Session(client.app.state.db) as s:
        new_id = s.exec(select(Prediction.id).where(Prediction.id != old_id)).one()
    assert client.get(url).text.count('class="reply"') == 2
    client.post(f"/predictions/{new_id}/delete", data={"csrf_token": token}, headers=HX)
    assert client.get(f"/media/{upload_id}/thumb").status_code == 200  # the first answer still has it
    assert f"photo-{upload_id}" in client.get(url).text
    client.post(f"/predictions/{old_id}/delete", data={"csrf_token": token}, headers=HX)
    assert client.get(f"/media/{upload_id}/thumb").status_code == 404


def test_captions_are_stored_with_their_photos(client, fashion_test):
    """One caption per photo, paired by position; kept in the photo's message and shown on reload.
    Captions that do not pair up (a form sending some but not all) are left out, not misplaced."""
    token = csrf_of(client)
    url = _new_conversation(client, token, {"files": ("first.png", fashion_png(fashion_test, 1), "image/png")})
    photos = [("files", ("a.png", fashion_png(fashion_test, 2), "image/png")),
              ("files", ("b.png", fashion_png(fashion_test, 3), "image/png"))]
    r = client.post(url + "/messages", data={"csrf_token": token, "captions": ["", "  my   blue\njeans " + "x" * 300]},
                    files=photos, headers=HX)
    assert r.status_code == 200 and r.text.count('class="caption"') == 1
    with Session(client.app.state.db) as s:
        rows = s.exec(select(Message, Upload).join(Upload, Message.upload_id == Upload.id)
                      .where(Message.kind == "image")).all()
    captions = {upload.filename: message.text for message, upload in rows}
    assert captions["a.png"] == "" and captions["first.png"] == ""
    assert captions["b.png"].startswith("my blue jeans x") and len(captions["b.png"]) == 200
    page = client.get(url).text
    assert re.search(r"b\.png</span>\s*<p class=\"caption\">my blue jeans x", page)
    r = client.post(url + "/messages", data={"csrf_token": token, "captions": ["only one"]}, files=photos, headers=HX)
    assert r.status_code == 200 and "only one" not in r.text
