"""The Intercom REST endpoints the tap uses (reference §2), over the workspace held by `IntercomState`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from api_sandbox.intercom import render
from api_sandbox.intercom.errors import error_response, json_response
from api_sandbox.intercom.model import Contact, Conversation, Ticket, Workspace
from api_sandbox.intercom.paging import decode_cursor, page_of, per_page_value, sort_key
from api_sandbox.intercom.search import (
    CONTACTS,
    CONVERSATIONS,
    TICKETS,
    Resource,
    SearchError,
    compile_query,
    sort_field,
)
from api_sandbox.intercom.state import VERSION_KEY, IntercomState

HTML_TAG = re.compile(r"<[^>]+>")
DEFAULT_PER_PAGE = {"contacts": 50, "conversations": 20, "tickets": 20}
# wrapper type and records key of each search/list response
WRAPPERS = {
    "contacts": ("list", "data"),
    "conversations": ("conversation.list", "conversations"),
    "tickets": ("ticket.list", "tickets"),
}


def _version(request: web.Request) -> int:
    return request[VERSION_KEY]


def _not_found(what: str) -> web.Response:
    return error_response(404, "not_found", f"{what} Not Found")


class IntercomApi:
    def __init__(self, state: IntercomState) -> None:
        self.state = state

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/me", self.me)
        r.add_get("/admins", self.admins)
        r.add_get("/admins/{id}", self.admin)
        r.add_get("/teams", self.teams)
        r.add_get("/tags", self.tags)
        r.add_get("/ticket_types", self.ticket_types)
        r.add_get("/ticket_states", self.ticket_states)
        r.add_get("/contacts", self.list_contacts)
        r.add_post("/contacts/search", self.search_contacts)
        r.add_get("/contacts/{id}", self.contact)
        r.add_get("/contacts/{id}/tags", self.contact_tags)
        r.add_get("/conversations", self.list_conversations)
        r.add_post("/conversations/search", self.search_conversations)
        r.add_get("/conversations/{id}", self.conversation)
        r.add_post("/tickets/search", self.search_tickets)
        r.add_get("/tickets/{id}", self.ticket)

    # ---- lookups ---------------------------------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        ws = self.state.workspace
        return json_response(render.me(ws, next(iter(ws.admins.values()))))

    async def admins(self, request: web.Request) -> web.Response:
        admins = [render.admin(a) for a in self.state.workspace.admins.values()]
        return json_response({"type": "admin.list", "admins": admins})

    async def admin(self, request: web.Request) -> web.Response:
        admin = self.state.workspace.admins.get(request.match_info["id"])
        if admin is None:
            return _not_found("Admin")
        return json_response(render.admin(admin))

    async def teams(self, request: web.Request) -> web.Response:
        teams = [render.team(t) for t in self.state.workspace.teams.values()]
        return json_response({"type": "team.list", "teams": teams})

    async def tags(self, request: web.Request) -> web.Response:
        tags = [
            {"type": "tag", "id": t.id, "name": t.name} for t in self.state.workspace.tags.values()
        ]
        return json_response({"type": "list", "data": tags})

    async def ticket_types(self, request: web.Request) -> web.Response:
        ws = self.state.workspace
        data = [render.ticket_type(ws, t) for t in ws.ticket_types.values()]
        return json_response({"type": "list", "data": data})

    async def ticket_states(self, request: web.Request) -> web.Response:
        data = [render.ticket_state(s) for s in self.state.workspace.ticket_states.values()]
        return json_response({"type": "list", "data": data})

    # ---- contacts --------------------------------------------------------------------------------------

    def _contact(self, request: web.Request) -> Contact | None:
        contact = self.state.workspace.contacts.get(request.match_info["id"])
        return None if contact is None or contact.deleted else contact

    async def contact(self, request: web.Request) -> web.Response:
        contact = self._contact(request)
        if contact is None:
            merged = self._merged_into(request)
            if merged is not None and _version(request) >= 16:
                # 2.16: "HTTP 410 Gone with a Link header pointing to the canonical (merged-into)
                # contact"; up to 2.15: "requesting it by its original ID will return a 404"
                link = f'<{request.url.origin()}/contacts/{merged}>; rel="canonical"'
                return error_response(
                    410,
                    "contact_merged",
                    f"Contact {request.match_info['id']} was merged into contact {merged}; "
                    "use that contact's id.",
                    headers={"Link": link},
                )
            return _not_found("User")
        return json_response(render.contact(self.state.workspace, contact, _version(request)))

    def _merged_into(self, request: web.Request) -> str | None:
        """The live contact a merged contact ended up in (following merges of merges), or None."""
        contacts = self.state.workspace.contacts
        contact = contacts.get(request.match_info["id"])
        if contact is None or contact.merged_into is None:
            return None
        seen = {contact.id}
        while contact.merged_into is not None and contact.merged_into not in seen:
            seen.add(contact.merged_into)
            contact = contacts[contact.merged_into]
        return contact.id

    async def contact_tags(self, request: web.Request) -> web.Response:
        contact = self._contact(request)
        if contact is None:
            return _not_found("User")
        return json_response(render.contact_tags(self.state.workspace, contact))

    async def list_contacts(self, request: web.Request) -> web.Response:
        return self._list(request, CONTACTS, {"field": "id", "order": "ascending"})

    async def search_contacts(self, request: web.Request) -> web.Response:
        return await self._search(request, CONTACTS)

    # ---- conversations ---------------------------------------------------------------------------------

    async def list_conversations(self, request: web.Request) -> web.Response:
        return self._list(request, CONVERSATIONS, {"field": "updated_at", "order": "descending"})

    async def search_conversations(self, request: web.Request) -> web.Response:
        return await self._search(request, CONVERSATIONS)

    async def conversation(self, request: web.Request) -> web.Response:
        raw_id = request.match_info["id"]
        conv = self.state.workspace.conversations.get(int(raw_id)) if raw_id.isdigit() else None
        if conv is None:
            return _not_found("Resource")
        data = render.conversation(self.state.workspace, conv, _version(request), with_parts=True)
        if request.query.get("display_as") == "plaintext":
            _plaintext(data)
        return json_response(data)

    # ---- tickets ---------------------------------------------------------------------------------------

    async def search_tickets(self, request: web.Request) -> web.Response:
        return await self._search(request, TICKETS)

    async def ticket(self, request: web.Request) -> web.Response:
        raw_id = request.match_info["id"]
        ticket = self.state.workspace.tickets.get(int(raw_id)) if raw_id.isdigit() else None
        if ticket is None:
            return _not_found("Ticket")
        return json_response(
            render.ticket(self.state.workspace, ticket, _version(request), with_parts=True)
        )

    # ---- paging ----------------------------------------------------------------------------------------

    def _list(self, request: web.Request, resource: Resource, sort: dict[str, str]) -> web.Response:
        try:
            per_page = per_page_value(
                request.query.get("per_page"), DEFAULT_PER_PAGE[resource.name]
            )
        except SearchError as exc:
            return error_response(400, exc.code, exc.message)
        return self._respond(
            request,
            resource,
            query=None,
            sort=sort,
            per_page=per_page,
            starting_after=request.query.get("starting_after"),
            repeatable=False,
        )

    async def _search(self, request: web.Request, resource: Resource) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response(400, "parameter_invalid", "The request body is not valid JSON")
        if not isinstance(body, dict):
            return error_response(
                400, "parameter_invalid", "The request body must be a JSON object"
            )
        if not isinstance(body.get("query"), dict):
            return error_response(
                400, "parameter_invalid", "query is required: a filter or an AND/OR group object"
            )
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            return error_response(400, "parameter_invalid", "pagination must be an object")
        try:
            per_page = per_page_value(pagination.get("per_page"), DEFAULT_PER_PAGE[resource.name])
        except SearchError as exc:
            return error_response(400, exc.code, exc.message)
        return self._respond(
            request,
            resource,
            query=body["query"],
            sort=body.get("sort"),
            per_page=per_page,
            starting_after=pagination.get("starting_after"),
            repeatable=True,
        )

    def _respond(
        self,
        request: web.Request,
        resource: Resource,
        *,
        query: Any,
        sort: Any,
        per_page: int,
        starting_after: Any,
        repeatable: bool,
    ) -> web.Response:
        state = self.state
        ws = state.workspace
        mode = state.cursor_mode
        try:
            predicate = compile_query(resource, query)
            sort_name, descending, spec = sort_field(resource, sort)
            if repeatable and state.ignore_sort[resource.name]:
                # quirk: the (still validated) sort is ignored; the most recently updated come first
                sort_name, descending, spec = sort_field(resource, None)
            signature = f"{resource.name}:{sort_name}:{'desc' if descending else 'asc'}"
            after = (
                None if starting_after is None else decode_cursor(starting_after, signature, mode)
            )
        except SearchError as exc:
            return error_response(400, exc.code, exc.message)
        get = spec.get
        query_text = json.dumps(query, sort_keys=True)
        cache_key: tuple[Any, ...] = (resource.name, query_text, sort_name, ws.version)
        if repeatable and resource is CONTACTS and state.contact_search_delay > 0:
            # recently edited contacts are not searchable yet (and results change with the clock)
            indexed_before = time.time() - state.contact_search_delay
            inner = predicate
            predicate = lambda c: c.edited_at_clock <= indexed_before and inner(c)  # noqa: E731
            if ws.last_contact_edit_clock > indexed_before:
                cache_key = (*cache_key, time.time())
        records: Callable[[], list[Any]] = lambda: _records(ws, resource)  # noqa: E731
        lag = state.search_lag
        if repeatable and lag.lagging(resource.name):
            # quirk: search matches and returns each object as it was `lag` seconds ago
            now = state.now()
            records = lambda: lag.visible(resource.name, _records(ws, resource), now)  # noqa: E731
            if lag.catching_up(resource.name, now):
                cache_key = (*cache_key, now)
        items, keys = state.sorted_results.get(
            cache_key,
            lambda: [(sort_key(get(r), r.id), r) for r in records() if predicate(r)],
        )
        page = page_of(
            items,
            keys,
            descending=descending,
            per_page=per_page,
            after=after,
            signature=signature,
            mode=mode,
        )
        if repeatable:
            page.next_cursor = state.cursor_repeater.next_cursor(
                f"{signature}:{per_page}:{query_text}", page.next_cursor
            )
        version = _version(request)
        if resource is CONTACTS:
            rendered = [render.contact(ws, c, version) for c in page.items]
        elif resource is CONVERSATIONS:
            # search and list items carry no conversation_parts
            rendered = [render.conversation(ws, c, version, with_parts=False) for c in page.items]
        else:
            rendered = [render.ticket(ws, t, version, with_parts=False) for t in page.items]
        wrapper_type, records_key = WRAPPERS[resource.name]
        return json_response(
            {
                "type": wrapper_type,
                records_key: rendered,
                "total_count": page.total_count,
                "pages": page.pages_object(),
            }
        )


def _records(
    ws: Workspace, resource: Resource
) -> list[Contact] | list[Conversation] | list[Ticket]:
    if resource is CONTACTS:
        return [c for c in ws.contacts.values() if not c.deleted]
    if resource is CONVERSATIONS:
        return list(ws.conversations.values())
    return list(ws.tickets.values())


def _plaintext(conversation: dict[str, Any]) -> None:
    """display_as=plaintext: bodies without HTML."""
    source = conversation["source"]
    source["body"] = HTML_TAG.sub("", source["body"] or "")
    for part in conversation["conversation_parts"]["conversation_parts"]:
        if part["body"] is not None:
            part["body"] = HTML_TAG.sub("", part["body"])
