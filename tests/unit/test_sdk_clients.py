"""SDK clients kept per base URL: derived once, bounded, oldest dropped first."""

from __future__ import annotations

from botflow.providers.sdk_clients import ClientsByBaseUrl, SdkClients


class Deriver:
    def __init__(self) -> None:
        self.derived: list[str] = []

    def __call__(self, base_url: str) -> tuple[str, int]:
        self.derived.append(base_url)
        return (base_url, len(self.derived))


def test_a_base_url_is_derived_once() -> None:
    derive = Deriver()
    clients = ClientsByBaseUrl(derive)
    first = [clients.get(url) for url in ("http://a", "http://b", "http://a", "http://a")]
    assert derive.derived == ["http://a", "http://b"]
    assert first[0] is first[2] is first[3]
    assert first[1] == ("http://b", 2)


def test_past_the_limit_the_oldest_is_dropped_and_derived_again() -> None:
    derive = Deriver()
    clients = ClientsByBaseUrl(derive, limit=2)
    for url in ("http://a", "http://b", "http://c", "http://b", "http://a"):
        assert clients.get(url)[0] == url
    assert derive.derived == ["http://a", "http://b", "http://c", "http://a"]


def test_clear_forgets_every_client() -> None:
    derive = Deriver()
    clients = ClientsByBaseUrl(derive)
    clients.get("http://a")
    clients.clear()
    clients.get("http://a")
    assert derive.derived == ["http://a", "http://a"]


class FakeSdk:
    """An SDK client as SdkClients uses it: with_options and close."""

    def __init__(self, base_url: str = "base") -> None:
        self.base_url = base_url
        self.closed = False

    def with_options(self, *, base_url: str, max_retries: int) -> FakeSdk:
        assert max_retries == 0
        return FakeSdk(base_url)

    async def close(self) -> None:
        self.closed = True


async def test_the_base_client_is_made_once_and_closed_with_the_provider() -> None:
    bases: list[FakeSdk] = []

    def make_base() -> FakeSdk:
        bases.append(FakeSdk())
        return bases[-1]

    clients = SdkClients(make_base)
    assert [clients.get(url).base_url for url in ("http://a", "http://b")] == [
        "http://a",
        "http://b",
    ]
    assert clients.get("http://a") is clients.get("http://a")
    assert len(bases) == 1
    await clients.aclose()
    assert bases[0].closed
    clients.get("http://a")
    assert len(bases) == 2  # a call after closing starts a new pool
