"""PLAY's audio cache follows HTTP caching and only ever yields files it wrote."""

import os

import pytest

from voxology_fs.audio import AudioCache
from voxology_fs.flow.errors import ActionFailed

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 100


@pytest.fixture
def cache(tmp_path):
    return AudioCache(str(tmp_path / "cache"), max_bytes=10000, timeout=2)


def test_max_age_is_honoured(cache, callback_server):
    url = callback_server.route(
        "/a.mp3", lambda r: (200, MP3, {"Content-Type": "audio/mpeg", "Cache-Control": "max-age=60"})
    )
    first = cache.fetch(url)
    second = cache.fetch(url)
    assert first == second and first.endswith(".mp3") and first.startswith(cache.directory)
    assert len([r for r in callback_server.requests if r["path"] == "/a.mp3"]) == 1


def test_stale_entry_is_revalidated_with_its_etag(cache, callback_server):
    def handler(request):
        if request["headers"].get("if-none-match") == '"v1"':
            return (304, b"", {"ETag": '"v1"'})
        return (200, MP3, {"Content-Type": "audio/mpeg", "ETag": '"v1"', "Cache-Control": "no-cache"})

    url = callback_server.route("/e.mp3", handler)
    first = cache.fetch(url)
    second = cache.fetch(url)
    assert first == second and open(second, "rb").read() == MP3
    statuses = [r["headers"].get("if-none-match") for r in callback_server.requests]
    assert statuses == [None, '"v1"']


def test_freshness_rules():
    from voxology_fs.audio import _freshness

    assert _freshness({"Cache-Control": "public, max-age=300"}) == 300
    assert _freshness({"Cache-Control": "no-store, max-age=300"}) == 0
    assert _freshness({"Cache-Control": "no-cache"}) == 0
    assert _freshness({}) == 0


def test_not_audio_is_refused(cache, callback_server):
    url = callback_server.route("/page", lambda r: (200, b"<html>hello</html>"))
    with pytest.raises(ActionFailed) as info:
        cache.fetch(url)
    assert "not mp3 or wav" in str(info.value)
    assert not [f for f in os.listdir(cache.directory) if not f.endswith(".json")]


def test_too_large_is_refused(cache, callback_server):
    url = callback_server.route("/big.mp3", lambda r: (200, MP3 * 100))
    with pytest.raises(ActionFailed) as info:
        cache.fetch(url)
    assert "larger than" in str(info.value)


def test_unreachable_is_an_action_failure(cache):
    with pytest.raises(ActionFailed):
        cache.fetch("http://127.0.0.1:9/x.wav")
