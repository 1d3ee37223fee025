"""A date filter at the end of the calendar is a clear 422 everywhere it is accepted, not a 500
(the day after it, where the range ends, overflowed: #28)."""

import pytest

URLS = ["/history?date_to=9999-12-31", "/history/export.csv?date_to=9999-12-31",
        "/history/export.json?date_to=9999-12-31", "/api/v1/predictions?date_to=9999-12-31",
        "/history?date_from=9999-12-31"]


@pytest.mark.parametrize("url", URLS)
def test_last_day_of_the_calendar_is_a_422(client, url):
    r = client.get(url)
    assert r.status_code == 422, r.text[:300]
    assert "9999-12-30" in r.text
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers


def test_the_day_before_is_accepted(client):
    assert client.get("/history?date_to=9999-12-30").status_code == 200
    assert client.get("/api/v1/predictions?date_to=9999-12-30").status_code == 200
