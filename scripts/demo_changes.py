"""Make a few changes in the Intercom stand-in, so the next demo run has something incremental to move.

New contact replies, an admin reply that the contact then reads, a ticket moved to resolved, a new conversation,
and a renamed contact. Prints the contract events the changes add (the stand-in's ledger entries).
"""

from __future__ import annotations

import sys
from typing import Any

from api_sandbox.testing import control


def changes(intercom_url: str) -> list[dict[str, Any]]:
    conversations = control(intercom_url, "dataset?kind=conversations")["data"]
    tickets = control(intercom_url, "dataset?kind=tickets")["data"]
    contacts = control(intercom_url, "dataset?kind=contacts")["data"]
    with_email = {c["id"] for c in contacts if c.get("email")}
    by_contact = [
        c
        for c in conversations
        if c["source"]["author"]["type"] in {"user", "lead"}
        and c["source"]["author"]["id"] in with_email
    ]
    open_tickets = [
        t
        for t in tickets
        if t["contacts"]["contacts"]
        and t["contacts"]["contacts"][0]["id"] in with_email
        and t["ticket_state"]["category"] != "resolved"
    ]
    first = by_contact[0]
    mutations: list[dict[str, Any]] = [
        {"action": "contact_reply", "conversation_id": c["id"]} for c in by_contact[1:4]
    ]
    mutations += [
        {"action": "admin_reply", "conversation_id": first["id"]},
        {"action": "mark_read", "conversation_id": first["id"]},
        {"action": "new_conversation", "contact_id": first["source"]["author"]["id"]},
        {
            "action": "edit_contact",
            "contact_id": first["source"]["author"]["id"],
            "changes": {"name": "Demo Renamed"},
        },
    ]
    mutations += [
        {"action": "ticket_state", "ticket_id": t["id"], "state": "resolved"}
        for t in open_tickets[:2]
    ]
    return mutations


def main() -> int:
    intercom_url = sys.argv[1]
    results = control(intercom_url, "mutations", {"mutations": changes(intercom_url)})["results"]
    added = [entry for result in results for entry in result["ledger"]]
    print(f"demo: {len(results)} changes in Intercom, {len(added)} new events expected in Klaviyo:")
    for entry in added:
        print(f"  {entry['metric']:<26} {entry['key']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
