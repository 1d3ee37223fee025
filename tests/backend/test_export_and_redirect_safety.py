"""User text that reaches a spreadsheet or a header is made harmless (#28 Low 7 and 11): the
corrections archive's labels.csv escapes formula-like filenames as export.csv does, and a CR/LF in
the delete form's `query` field neither breaks the redirect nor drops the connection."""

import csv
import io
import re
import zipfile

from tests.conftest import csrf_of, fashion_png

HX = {"HX-Request": "true"}


def _store(client, fashion_test, name: str) -> tuple[str, str]:
    token = csrf_of(client)
    client.post("/c", data={"csrf_token": token}, files={"files": (name, fashion_png(fashion_test, 0), "image/png")})
    page = client.get("/history").text
    prediction_id = re.search(r'id="row-([0-9a-f]+)"', page).group(1)
    return token, prediction_id


def test_corrections_labels_csv_escapes_formulas(client, fashion_test):
    token, prediction_id = _store(client, fashion_test, '=HYPERLINK("evil.example").png')
    r = client.post(f"/predictions/{prediction_id}/feedback", data={"csrf_token": token, "label": "Bag"},
                    follow_redirects=False)
    assert r.status_code == 303
    archive = zipfile.ZipFile(io.BytesIO(client.get("/history/corrections.zip").content))
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert rows[0]["original_filename"].startswith("'=HYPERLINK")


def test_crlf_in_the_delete_query_is_encoded_not_sent_as_a_header(client, fashion_test):
    token, prediction_id = _store(client, fashion_test, "shirt.png")
    r = client.post("/history/delete", data={"csrf_token": token, "ids": prediction_id,
                                             "query": "label=Shirt\r\nSet-Cookie: x=1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/history?label=Shirt%0D%0ASet-Cookie:%20x=1"
    assert "x=1" not in r.headers.get("set-cookie", "")
    r = client.post("/history/delete", data={"csrf_token": token, "ids": "gone", "query": "a=1\nb"}, headers=HX)
    assert r.status_code == 200 and r.headers["hx-location"] == "/history?a=1%0Ab"
