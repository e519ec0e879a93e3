"""The search query language of POST /contacts|conversations|tickets/search (reference §3.2-§3.4).

Strict where Intercom is strict: unknown fields, bad operators, nesting deeper than two levels and more than
15 filters a group are 400s. Awkward where it is awkward: contact timestamps match by calendar day (UTC
workspace), and conversation/ticket `>` and `<` include the value itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api_sandbox.intercom.model import DAY, Contact, Conversation, conversation_facts

OPERATORS = ("=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$")
CONTACT_DATE_OPERATORS = ("=", ">", "<")
MAX_FILTERS_PER_GROUP = 15
MAX_NESTING = 2


class SearchError(ValueError):
    """A 400 with an Intercom error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Field:
    get: Callable[[Any], Any]
    kind: str  # date, int, str, bool, list (list of ids)


Predicate = Callable[[Any], bool]


def _location(index: int) -> Callable[[Contact], Any]:
    return lambda c: c.location[index]


CONTACT_FIELDS: dict[str, Field] = {
    "id": Field(lambda c: c.id, "str"),
    "role": Field(lambda c: c.role, "str"),
    "name": Field(lambda c: c.name, "str"),
    "owner_id": Field(lambda c: c.owner_id, "int"),
    "email": Field(lambda c: c.email, "str"),
    "email_domain": Field(lambda c: c.email.split("@", 1)[1] if c.email else None, "str"),
    "phone": Field(lambda c: c.phone, "str"),
    "external_id": Field(lambda c: c.external_id, "str"),
    "created_at": Field(lambda c: c.created_at, "date"),
    "signed_up_at": Field(lambda c: c.signed_up_at, "date"),
    "updated_at": Field(lambda c: c.updated_at, "date"),
    "last_seen_at": Field(lambda c: c.last_seen_at, "date"),
    "last_contacted_at": Field(lambda c: None, "date"),
    "last_replied_at": Field(lambda c: None, "date"),
    "last_email_opened_at": Field(lambda c: None, "date"),
    "last_email_clicked_at": Field(lambda c: None, "date"),
    "location.country": Field(_location(0), "str"),
    "location.region": Field(_location(1), "str"),
    "location.city": Field(_location(2), "str"),
    "unsubscribed_from_emails": Field(lambda c: c.unsubscribed_from_emails, "bool"),
    "marked_email_as_spam": Field(lambda c: c.marked_email_as_spam, "bool"),
    "has_hard_bounced": Field(lambda c: c.has_hard_bounced, "bool"),
    "tag_id": Field(lambda c: [t for t, _ in c.tags], "list"),
}


def _stat(name: str) -> Field:
    def get(conv: Conversation) -> Any:
        if not conv.has_statistics:
            return None
        return getattr(conversation_facts(conv), name)

    return Field(get, "date")


CONVERSATION_FIELDS: dict[str, Field] = {
    "id": Field(lambda c: c.id, "int"),
    "created_at": Field(lambda c: c.created_at, "date"),
    "updated_at": Field(lambda c: c.updated_at, "date"),
    "source.type": Field(lambda c: c.source_type, "str"),
    "source.id": Field(lambda c: str(c.source_id), "str"),
    "source.delivered_as": Field(lambda c: c.delivered_as, "str"),
    "source.subject": Field(lambda c: c.source_subject, "str"),
    "source.body": Field(lambda c: c.source_body, "str"),
    "source.author.id": Field(lambda c: c.source_author_id, "str"),
    "source.author.type": Field(lambda c: c.source_author_type, "str"),
    "contact_ids": Field(lambda c: c.contact_ids, "list"),
    "teammate_ids": Field(lambda c: conversation_facts(c).admin_ids, "list"),
    "admin_assignee_id": Field(
        lambda c: int(a) if (a := conversation_facts(c).admin_assignee_id) else 0, "int"
    ),
    "team_assignee_id": Field(lambda c: c.team_assignee_id or 0, "int"),
    "open": Field(lambda c: conversation_facts(c).state != "closed", "bool"),
    "read": Field(lambda c: c.read, "bool"),
    "state": Field(lambda c: conversation_facts(c).state, "str"),
    "waiting_since": Field(lambda c: conversation_facts(c).waiting_since, "date"),
    "snoozed_until": Field(lambda c: c.snoozed_until, "date"),
    "tag_ids": Field(lambda c: [t for t, _, _ in c.tags], "list"),
    "statistics.first_contact_reply_at": _stat("first_contact_reply_at"),
    "statistics.first_admin_reply_at": _stat("first_admin_reply_at"),
    "statistics.last_admin_reply_at": _stat("last_admin_reply_at"),
    "statistics.last_contact_reply_at": _stat("last_contact_reply_at"),
    "statistics.first_close_at": _stat("first_close_at"),
    "statistics.last_close_at": _stat("last_close_at"),
    "conversation_rating.score": Field(lambda c: c.rating.rating if c.rating else None, "int"),
    "conversation_rating.replied_at": Field(
        lambda c: c.rating.updated_at if c.rating else None, "date"
    ),
    "ai_agent_participated": Field(lambda c: False, "bool"),
}

# Ticket search names categories with its own terms (reference §3.4).
TICKET_CATEGORY_TERMS = {"request": "Customer", "task": "Back-office", "tracker": "Tracker"}

TICKET_FIELDS: dict[str, Field] = {
    "id": Field(lambda t: t.id, "int"),
    "created_at": Field(lambda t: t.created_at, "date"),
    "updated_at": Field(lambda t: t.updated_at, "date"),
    "title": Field(lambda t: t.title, "str"),
    "description": Field(lambda t: t.description, "str"),
    "category": Field(lambda t: t.category, "category"),
    "ticket_type_id": Field(lambda t: t.ticket_type_id, "str"),
    "contact_ids": Field(lambda t: t.contact_ids, "list"),
    "teammate_ids": Field(
        lambda t: [p.author_id for p in t.parts if p.author_type == "admin"], "list"
    ),
    "admin_assignee_id": Field(lambda t: t.admin_assignee_id, "int"),
    "team_assignee_id": Field(lambda t: t.team_assignee_id, "int"),
    "open": Field(lambda t: t.state != "resolved", "bool"),
    "state": Field(lambda t: t.state, "str"),
    "snoozed_until": Field(lambda t: t.snoozed_until, "date"),
}


@dataclass(frozen=True, slots=True)
class Resource:
    name: str  # contacts, conversations, tickets
    fields: dict[str, Field]
    day_granular_dates: bool  # contacts: timestamps match by calendar day
    inclusive_bounds: bool  # conversations/tickets: > and < include the value


CONTACTS = Resource("contacts", CONTACT_FIELDS, day_granular_dates=True, inclusive_bounds=False)
CONVERSATIONS = Resource(
    "conversations", CONVERSATION_FIELDS, day_granular_dates=False, inclusive_bounds=True
)
TICKETS = Resource("tickets", TICKET_FIELDS, day_granular_dates=False, inclusive_bounds=True)


def _field(resource: Resource, name: Any) -> Field:
    if not isinstance(name, str):
        raise SearchError("parameter_invalid", f"filter field must be a string, got {name!r}")
    spec = resource.fields.get(name)
    if spec is None and resource is CONTACTS and name.startswith("custom_attributes."):
        key = name.split(".", 1)[1]
        spec = Field(lambda c: c.custom_attributes.get(key), "any")
    if spec is None:
        raise SearchError(
            "invalid_field", f"{name} is not a valid search field for {resource.name}"
        )
    return spec


def compile_query(resource: Resource, query: Any) -> Predicate:
    """Validate a `query` object and turn it into a predicate over internal records."""
    if query is None:
        return lambda _obj: True
    return _compile(resource, query, depth=0)


def _compile(resource: Resource, node: Any, depth: int) -> Predicate:
    if not isinstance(node, dict):
        raise SearchError(
            "parameter_invalid", f"query must be an object, got {type(node).__name__}"
        )
    if "field" in node:
        return _compile_filter(resource, node)
    operator = node.get("operator")
    if operator not in ("AND", "OR"):
        raise SearchError(
            "parameter_invalid",
            f"a query group needs operator AND or OR, got {operator!r} (a filter needs a field)",
        )
    children = node.get("value")
    if not isinstance(children, list) or not children:
        raise SearchError(
            "parameter_invalid", f"the value of an {operator} group must be a non-empty list"
        )
    if depth + 1 > MAX_NESTING:
        raise SearchError(
            "parameter_invalid", f"queries allow at most {MAX_NESTING} nested filters"
        )
    if len(children) > MAX_FILTERS_PER_GROUP:
        raise SearchError(
            "parameter_invalid",
            f"an {operator} group allows at most {MAX_FILTERS_PER_GROUP} filters, got {len(children)}",
        )
    predicates = [_compile(resource, child, depth + 1) for child in children]
    if operator == "AND":
        return lambda obj: all(p(obj) for p in predicates)
    return lambda obj: any(p(obj) for p in predicates)


def _timestamp(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise SearchError("parameter_invalid", f"{field} needs a UNIX timestamp, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise SearchError("parameter_invalid", f"{field} needs a UNIX timestamp, got {value!r}")


def _coerce(kind: str, value: Any, field: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return _timestamp(value, field)
    if kind == "int":
        if isinstance(value, bool):
            raise SearchError("parameter_invalid", f"{field} needs an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise SearchError("parameter_invalid", f"{field} needs an integer, got {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise SearchError("parameter_invalid", f"{field} needs true or false, got {value!r}")
    if kind == "category":
        # only the search terms match; "Customer" matches nothing, as in Intercom
        return TICKET_CATEGORY_TERMS.get(str(value), f"<no category {value}>")
    if kind == "any":
        return value
    return str(value)


def _compile_filter(resource: Resource, node: dict[str, Any]) -> Predicate:
    name = str(node.get("field"))
    spec = _field(resource, node.get("field"))
    operator = node.get("operator")
    if operator not in OPERATORS:
        raise SearchError(
            "parameter_invalid", f"operator {operator!r} is not one of {', '.join(OPERATORS)}"
        )
    if "value" not in node:
        raise SearchError("parameter_invalid", f"the filter on {name} has no value")
    raw = node["value"]
    get = spec.get
    kind = spec.kind
    if operator in ("IN", "NIN") and not isinstance(raw, list):
        raise SearchError("parameter_invalid", f"{operator} on {name} needs a list value")
    if kind == "date" and resource.day_granular_dates:
        return _contact_date_filter(name, operator, raw, get)
    if operator in ("IN", "NIN"):
        wanted = {_coerce(kind, v, name) for v in raw}
        if kind == "list":
            hit_any: Predicate = lambda obj: any(v in wanted for v in get(obj))  # noqa: E731
        else:
            hit_any = lambda obj: get(obj) in wanted  # noqa: E731
        return hit_any if operator == "IN" else (lambda obj: not hit_any(obj))
    value = _coerce(kind, raw, name)
    if kind == "list":
        if operator == "=":
            return lambda obj: value in get(obj)
        if operator == "!=":
            return lambda obj: value not in get(obj)
        raise SearchError("parameter_invalid", f"{name} supports only =, !=, IN and NIN")
    if operator == "=":
        return lambda obj: get(obj) == value
    if operator == "!=":
        return lambda obj: get(obj) != value
    if operator in ("~", "!~", "^", "$"):
        if not isinstance(value, str):
            raise SearchError("parameter_invalid", f"{operator} on {name} needs a string value")
        test = _string_test(operator, value)
        return lambda obj: isinstance(v := get(obj), str) and test(v)
    if value is None:
        raise SearchError("parameter_invalid", f"{operator} on {name} needs a value, got null")
    # Conversations and tickets: > and < are "greater (or equal)" / "lower (or equal)".
    if (operator == ">" and resource.inclusive_bounds) or operator == ">=":
        return lambda obj: (v := get(obj)) is not None and v >= value
    if (operator == "<" and resource.inclusive_bounds) or operator == "<=":
        return lambda obj: (v := get(obj)) is not None and v <= value
    if operator == ">":
        return lambda obj: (v := get(obj)) is not None and v > value
    return lambda obj: (v := get(obj)) is not None and v < value


def _string_test(operator: str, value: str) -> Callable[[str], bool]:
    needle = value.lower()
    if operator == "~":
        return lambda v: needle in v.lower()
    if operator == "!~":
        return lambda v: needle not in v.lower()
    if operator == "^":
        return lambda v: v.lower().startswith(needle)
    return lambda v: v.lower().endswith(needle)


def _contact_date_filter(
    name: str, operator: str, raw: Any, get: Callable[[Any], Any]
) -> Predicate:
    """Contact timestamps match by calendar day: = the day, > from the next day, < before the day."""
    if operator not in CONTACT_DATE_OPERATORS:
        raise SearchError(
            "parameter_invalid",
            f"operator {operator} is not supported for the date field {name} in contact search; "
            "dates are matched by calendar day and accept only =, > and <",
        )
    day_start = _timestamp(raw, name) // DAY * DAY
    next_day = day_start + DAY
    if operator == "=":
        return lambda obj: (v := get(obj)) is not None and day_start <= v < next_day
    if operator == ">":
        return lambda obj: (v := get(obj)) is not None and v >= next_day
    return lambda obj: (v := get(obj)) is not None and v < day_start


def sort_field(resource: Resource, sort: Any) -> tuple[str, bool, Field]:
    """(field name, descending?, field) from a `sort` object; absent: updated_at descending."""
    if sort is None:
        return "updated_at", True, resource.fields["updated_at"]
    if not isinstance(sort, dict):
        raise SearchError("parameter_invalid", "sort must be an object {field, order}")
    name = sort.get("field", "updated_at")
    spec = _field(resource, name)
    if spec.kind in ("list", "any"):
        raise SearchError("invalid_field", f"{name} cannot be used to sort {resource.name}")
    order = sort.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise SearchError(
            "invalid_sort_order", f"sort order must be ascending or descending, got {order!r}"
        )
    return name, order == "descending", spec
