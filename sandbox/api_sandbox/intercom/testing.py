"""A small requests-based client of the Intercom stand-in, for tests: API calls, control calls, mutations."""

from __future__ import annotations

from typing import Any

import requests

from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import control, ledger, mutate


class IntercomTestClient:
    """Sends what a well-behaved client sends: Bearer token, Accept: application/json, Intercom-Version."""

    def __init__(
        self, base_url: str, token: str = IntercomSettings.token, version: str | None = "2.14"
    ) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        if version is not None:
            self.session.headers["Intercom-Version"] = version

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", timeout=30, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.base_url}{path}", json=body, timeout=30, **kwargs)

    def search_all(
        self, resource: str, query: Any, *, per_page: int = 150, sort: Any = None
    ) -> list[dict[str, Any]]:
        """Every item of a search, following pages.next.starting_after (fails on an error status)."""
        records_key = {"contacts": "data"}.get(resource, resource)
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "pagination": {"per_page": per_page, "starting_after": cursor},
            }
            if sort is not None:
                body["sort"] = sort
            response = self.post(f"/{resource}/search", body)
            response.raise_for_status()
            page = response.json()
            items.extend(page[records_key])
            next_page = page["pages"].get("next")
            if next_page is None:
                return items
            cursor = next_page["starting_after"]

    def control(self, path: str, payload: Any = None) -> Any:
        return control(self.base_url, path, payload)

    def mutate(self, *mutations: dict[str, Any]) -> list[dict[str, Any]]:
        return mutate(self.base_url, *mutations)

    def schedule(
        self,
        *mutations: dict[str, Any],
        after_requests: int | None = None,
        every_requests: int | None = None,
        times: int | None = None,
    ) -> dict[str, Any]:
        """Schedule mutations to fire while serving (see POST /_sandbox/mutations/schedule)."""
        body: dict[str, Any] = {"mutations": list(mutations)}
        for name, value in (
            ("after_requests", after_requests),
            ("every_requests", every_requests),
            ("times", times),
        ):
            if value is not None:
                body[name] = value
        schedule: dict[str, Any] = self.control("mutations/schedule", body)["schedule"]
        return schedule

    def scheduled(self) -> dict[str, Any]:
        """Pending and fired scheduled mutations, with the results of the fired ones."""
        state: dict[str, Any] = self.control("mutations/schedule")
        return state

    def ledger_keys(self) -> set[str]:
        return set(ledger(self.base_url))
