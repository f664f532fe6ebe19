"""Roles, reviews and CSRF through the real app (in-process ASGI client) over a real seeded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from har_stream.config.loading import ConfigError
from har_stream.config.site import validate_site
from har_stream.serve.app import create_app
from har_stream.serve.health import LOCAL_NODE
from har_stream.serve.runtime import SiteRuntime
from har_stream.store import EventQuery, EventStore
from tests.serve.conftest import make_site, seed

ALICE = "alice-operator-Zq8vN2xR4kT7"
BOB = "bob-viewer-Hj3mW9pL5sD1yC"
ADMIN = "admin-legacy-Rt6uE2wQ8nB4"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[SiteRuntime]:
    tokens = [{"name": "alice", "token": ALICE, "role": "operator"}, {"name": "bob", "token": BOB}]
    runtime = SiteRuntime(make_site(tmp_path, host="0.0.0.0", tokens=tokens, token=ADMIN))
    seed(runtime)
    yield runtime
    runtime.stop()


@pytest.fixture
def client(runtime: SiteRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url="http://localhost") as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_session_names_each_token_and_its_role(client: TestClient) -> None:
    alice = client.get("/api/session", headers=bearer(ALICE)).json()
    assert alice["name"] == "alice" and alice["role"] == "operator" and alice["can_review"] is True
    bob = client.get("/api/session", headers={"X-HAR-Token": BOB}).json()
    assert bob == {**bob, "name": "bob", "role": "viewer", "can_review": False}
    admin = client.get("/api/session", headers=bearer(ADMIN)).json()
    assert admin["name"] == "admin" and admin["role"] == "operator"
    assert client.get("/api/session").status_code == 401


def test_operator_reviews_and_viewer_gets_403(client: TestClient, runtime: SiteRuntime) -> None:
    done = client.post(
        "/api/events/alert004/review", json={"verdict": "confirmed", "note": "seen on tape"}, headers=bearer(ALICE)
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["review"] == "confirmed" and body["reviewed_by"] == "alice" and body["review_note"] == "seen on tape"
    assert body["reviewed_at"] > 0
    refused = client.post("/api/events/alert005/review", json={"verdict": "false_alarm"}, headers=bearer(BOB))
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert runtime.store.get("alert005").review is None
    again = client.post("/api/events/alert004/review", json={"verdict": "false_alarm"}, headers=bearer(ADMIN))
    assert again.json()["review"] == "false_alarm" and again.json()["reviewed_by"] == "admin"
    assert (
        client.post("/api/events/nope/review", json={"verdict": "confirmed"}, headers=bearer(ALICE)).status_code == 404
    )
    too_long = client.post(
        "/api/events/alert004/review", json={"verdict": "confirmed", "note": "x" * 501}, headers=bearer(ALICE)
    )
    assert too_long.status_code == 422
    wrong = client.post("/api/events/alert004/review", json={"verdict": "maybe"}, headers=bearer(ALICE))
    assert wrong.status_code == 422


def test_cookie_alone_cannot_write_but_cookie_and_csrf_can(client: TestClient, runtime: SiteRuntime) -> None:
    client.cookies.set("har_stream_token", ALICE)
    assert client.get("/api/events").status_code == 200  # reading with the cookie is fine
    # A forged cross-site form post: the browser sends the cookie, but no header token and no CSRF token.
    forged = client.post(
        "/api/events/alert002/review",
        content="verdict=false_alarm",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
    )
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert runtime.store.get("alert002").review is None
    # Nor does a wrong CSRF token, or another token's CSRF token.
    bob_csrf = client.get("/api/session", headers=bearer(BOB)).json()["csrf_token"]
    for csrf in ("0" * 64, bob_csrf):
        refused = client.post(
            "/api/events/alert002/review", json={"verdict": "confirmed"}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403
    csrf = client.get("/api/session").json()["csrf_token"]
    done = client.post("/api/events/alert002/review", json={"verdict": "confirmed"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json()["reviewed_by"] == "alice"


def test_token_in_the_query_cannot_write_without_csrf(client: TestClient) -> None:
    refused = client.post(f"/api/events/alert002/review?token={ALICE}", json={"verdict": "confirmed"})
    assert refused.status_code == 403


def test_without_tokens_writes_still_need_the_csrf_token(tmp_path: Path) -> None:
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 2)
    try:
        with TestClient(create_app(runtime), base_url="http://localhost") as client:
            session = client.get("/api/session").json()
            assert session["name"] == "local" and session["role"] == "operator"
            assert client.post("/api/events/alert000/review", json={"verdict": "confirmed"}).status_code == 403
            done = client.post(
                "/api/events/alert000/review",
                json={"verdict": "confirmed"},
                headers={"X-CSRF-Token": session["csrf_token"]},
            )
            assert done.status_code == 200 and done.json()["reviewed_by"] == "local"
    finally:
        runtime.stop()


def test_review_filter_and_unreviewed_first(client: TestClient) -> None:
    for alert_id, verdict in (("alert011", "confirmed"), ("alert010", "false_alarm")):
        client.post(f"/api/events/{alert_id}/review", json={"verdict": verdict}, headers=bearer(ALICE))
    first = client.get("/api/events?unreviewed_first=true&limit=500", headers=bearer(BOB)).json()["items"]
    states = [e["review"] for e in first]
    assert states[:10] == [None] * 10 and set(states[10:]) == {"confirmed", "false_alarm"}
    assert first[0]["alert_id"] == "alert009"  # newest unreviewed
    newest = client.get("/api/events", headers=bearer(BOB)).json()["items"]
    assert newest[0]["alert_id"] == "alert011"  # default order is unchanged
    for state, expected in (("confirmed", 1), ("false_alarm", 1), ("reviewed", 2), ("unreviewed", 10)):
        page = client.get(f"/api/events?review={state}", headers=bearer(BOB)).json()
        assert page["total"] == expected, state
    assert client.get("/api/events?review=bogus", headers=bearer(BOB)).status_code == 422


def test_camera_health_says_where_it_runs(client: TestClient) -> None:
    import socket

    camera = client.get("/api/cameras/gate", headers=bearer(BOB)).json()
    assert camera["node"] == LOCAL_NODE and camera["host"] == socket.gethostname()


def test_store_review_survives_reopening(tmp_path: Path) -> None:
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime, 3)
    assert runtime.store.review("alert001", "false_alarm", "carol", "a shadow", at=123.0)
    runtime.stop()
    store = EventStore(tmp_path / "media" / "events.db")
    alert = store.get("alert001")
    assert (alert.review, alert.reviewed_by, alert.reviewed_at, alert.review_note) == (
        "false_alarm",
        "carol",
        123.0,
        "a shadow",
    )
    assert [a.alert_id for a in store.reviewed()] == ["alert001"]
    assert store.query(EventQuery(review="unreviewed"))[0] == 2
    with pytest.raises(ValueError, match="confirmed, false_alarm"):
        store.review("alert001", "maybe", "carol")
    store.close()


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"tokens": [{"name": "a", "token": "short"}]}, "server.tokens[0].token"),
        ({"tokens": [{"name": "a", "token": ALICE}, {"name": "a", "token": BOB}]}, "tokens[1].name"),
        ({"tokens": [{"name": "a", "token": ALICE}, {"name": "b", "token": ALICE}]}, "tokens[1].token"),
        ({"tokens": [{"name": "admin", "token": ALICE}], "token": BOB}, "single token is named 'admin'"),
        ({"tokens": [{"name": "a b", "token": ALICE}]}, "server.tokens[0].name"),
        ({"tokens": [{"name": "a", "token": ALICE, "role": "root"}]}, "server.tokens[0].role"),
    ],
)
def test_bad_tokens_are_named_in_errors(tmp_path: Path, server: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_site({"cameras": [{"name": "a"}], "server": server}, env={})
    assert message in str(error.value)
    for secret in (ALICE, BOB):
        assert secret not in str(error.value)


def test_named_tokens_allow_binding_off_loopback(tmp_path: Path) -> None:
    site = validate_site(
        {"cameras": [{"name": "a"}], "server": {"host": "0.0.0.0", "tokens": [{"name": "bob", "token": BOB}]}}, env={}
    )
    assert [(t.name, t.role) for t in site.server.access_tokens] == [("bob", "viewer")]
    with pytest.raises(ConfigError, match="a token is required"):
        validate_site({"cameras": [{"name": "a"}], "server": {"host": "0.0.0.0"}}, env={})


def test_opening_a_page_with_another_token_switches_to_it(runtime: SiteRuntime) -> None:
    with TestClient(create_app(runtime), base_url="http://localhost", follow_redirects=False) as client:
        client.cookies.set("har_stream_token", BOB)
        switched = client.get(f"/events?token={ALICE}", headers={"Accept": "text/html"})
        assert switched.status_code == 303 and switched.headers["location"] == "/events"
        assert f"har_stream_token={ALICE}" in switched.headers["set-cookie"]
