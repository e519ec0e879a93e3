"""Stream schemas: one JSON type per field, every Intercom timestamp a date-time, every id a string.

What a record holds is what its schema says in every API version (2.11 to 2.16); `output.conform`
turns the API's objects into that shape (epoch seconds -> ISO-8601 UTC strings, integer ids ->
strings, a plain avatar URL -> the avatar object, 2.11's string `ticket_state` -> the object).

- Timestamps: `{"type": ["string", "null"], "format": "date-time"}`, at every depth (part times,
  rating times, statistics, tag `applied_at`, ...). Durations (`time_to_*`) stay integers.
- Ids: strings, in arrays too (`team_ids`, `admin_ids`); unassigned assignees keep the API's value
  ("0" or null).
- Objects list every field the API returns (checked against the Intercom stand-in for 2.11, 2.14
  and 2.16 and against Intercom's OpenAPI descriptions), so a target that drops unknown fields keeps
  them all. Only free-form objects allow other keys (`additionalProperties: true`):
  `custom_attributes`, `ticket_attributes`, `event_details`, `input_options`, `company` (2.16),
  `sales_agent.collected_data` and quick-reply `translations`. Nested objects become JSON columns
  in SQL targets; the SDK drops (with a warning) a key a non-free-form object does not declare.
- The event streams (`conversation_events`, `ticket_events`) are the contract's record shape
  (docs/interfaces.md section 1) and are built by the tap already typed.
"""

from __future__ import annotations

import copy
from typing import Any

from singer_sdk import typing as th

Schema = dict[str, Any]


def _string() -> Schema:
    return {"type": ["string", "null"]}


def _datetime() -> Schema:
    return {"type": ["string", "null"], "format": "date-time"}


def _integer() -> Schema:
    return {"type": ["integer", "null"]}


def _number() -> Schema:
    return {"type": ["number", "null"]}


def _boolean() -> Schema:
    return {"type": ["boolean", "null"]}


def _object(**properties: Schema) -> Schema:
    return {"type": ["object", "null"], "properties": properties}


def _free_object(**properties: Schema) -> Schema:
    """An object whose keys are the workspace's own (custom attributes and the like)."""
    return {"type": ["object", "null"], "properties": properties, "additionalProperties": True}


def _array(items: Schema) -> Schema:
    return {"type": ["array", "null"], "items": items}


def _strings(*names: str) -> dict[str, Schema]:
    return {name: _string() for name in names}


def _datetimes(*names: str) -> dict[str, Schema]:
    return {name: _datetime() for name in names}


def _booleans(*names: str) -> dict[str, Schema]:
    return {name: _boolean() for name in names}


def _stream(required: dict[str, Schema], **properties: Schema) -> Schema:
    """A stream's schema: `required` keys are always present (ids and replication keys)."""
    return copy.deepcopy(
        {
            "type": "object",
            "properties": {**required, **properties},
            "required": list(required),
        }
    )


def _id() -> Schema:
    return {"type": "string"}


def _ref(*extra: str) -> Schema:
    """`{type, id}` references (teammates, applied_by, assigned_to, ...)."""
    return _object(**_strings("type", "id", *extra))


def _list_of_refs(**item_extra: Schema) -> Schema:
    """A contact's addressable lists: `{type: "list", data: [{type, id, url}], url, total_count, has_more}`."""
    return _object(
        type=_string(),
        data=_array(_object(**_strings("type", "id", "url"), **item_extra)),
        url=_string(),
        total_count=_integer(),
        has_more=_boolean(),
    )


AVATAR = _object(**_strings("type", "image_url"))
ATTACHMENT = _object(
    **_strings("type", "name", "url", "content_type"),
    filesize=_integer(),
    width=_integer(),
    height=_integer(),
)
AUTHOR = _object(
    **_strings("type", "id", "name", "email"), **_booleans("from_ai_agent", "is_ai_answer")
)
EMAIL_MESSAGE_METADATA = _object(
    **_strings("message_id", "subject", "history"),
    email_address_headers=_array(_object(**_strings("type", "email_address", "name"))),
)
CONTACT_REFS = _object(type=_string(), contacts=_array(_ref("external_id")))
LINKED_OBJECTS = _object(
    type=_string(),
    total_count=_integer(),
    has_more=_boolean(),
    data=_array(_object(**_strings("type", "id", "category"))),
)
TICKET_STATE = _object(**_strings("type", "id", "category", "internal_label", "external_label"))
TICKET_TYPE_ATTRIBUTE = _object(
    **_strings("type", "id", "workspace_id", "name", "description", "data_type", "ticket_type_id"),
    input_options=_free_object(),
    order=_integer(),
    **_booleans(
        "required_to_create",
        "required_to_create_for_contacts",
        "visible_on_create",
        "visible_to_contacts",
        "default",
        "archived",
    ),
    **_datetimes("created_at", "updated_at"),
)
_TICKET_TYPE_PROPERTIES: dict[str, Schema] = {
    **_strings("type", "category", "name", "description", "icon", "workspace_id"),
    **_booleans("archived", "is_internal"),
    **_datetimes("created_at", "updated_at"),
    # `data` from 2.12 on; 2.11's schema names the list `ticket_type_attributes`.
    "ticket_type_attributes": _object(
        type=_string(),
        data=_array(TICKET_TYPE_ATTRIBUTE),
        ticket_type_attributes=_array(TICKET_TYPE_ATTRIBUTE),
    ),
    "ticket_states": _object(type=_string(), data=_array(TICKET_STATE)),
}
PARTS_COUNT = _object(type=_string(), total_count=_integer())  # parts are their own stream

ADMIN = _stream(
    {"id": _id()},
    **_strings("type", "name", "email", "job_title", "away_status_reason_id"),
    **_booleans("email_verified", "away_mode_enabled", "away_mode_reassign", "has_inbox_seat"),
    team_ids=_array(_string()),
    avatar=AVATAR,  # a URL string in 2.14+, an object in 2.11: always the object here
    team_priority_level=_object(
        primary_team_ids=_array(_string()), secondary_team_ids=_array(_string())
    ),
    role=_object(**_strings("type", "id", "name")),
)

TEAM = _stream(
    {"id": _id()},
    **_strings("type", "name", "distribution_method"),
    admin_ids=_array(_string()),
    admin_priority_level=_object(
        primary_admin_ids=_array(_string()), secondary_admin_ids=_array(_string())
    ),
    assignment_limit=_integer(),
)

TAG = _stream({"id": _id()}, **_strings("type", "name"))

TICKET_TYPE = _stream({"id": _id()}, **_TICKET_TYPE_PROPERTIES)

CONTACT = _stream(
    {
        "id": _id(),
        "updated_at": _datetime(),
        "tag_names": {"type": "array", "items": {"type": "string"}},
    },
    **_strings(
        "type",
        "workspace_id",
        "external_id",
        "role",
        "email",
        "email_domain",
        "phone",
        "formatted_phone",
        "name",
        "owner_id",
        "language_override",
        "browser",
        "browser_version",
        "browser_language",
        "os",
        "android_app_name",
        "android_app_version",
        "android_device",
        "android_os_version",
        "android_sdk_version",
        "ios_app_name",
        "ios_app_version",
        "ios_device",
        "ios_os_version",
        "ios_sdk_version",
        "utm_campaign",
        "utm_content",
        "utm_medium",
        "utm_source",
        "utm_term",
        "referrer",
    ),
    **_booleans(
        "has_hard_bounced",
        "marked_email_as_spam",
        "unsubscribed_from_emails",
        "enabled_push_messaging",
    ),
    **_datetimes(
        "created_at",
        "signed_up_at",
        "last_seen_at",
        "last_replied_at",
        "last_contacted_at",
        "last_email_opened_at",
        "last_email_clicked_at",
        "android_last_seen_at",
        "ios_last_seen_at",
    ),
    avatar=AVATAR,  # object or a plain URL string in the API: always the object here
    social_profiles=_object(
        type=_string(), data=_array(_object(**_strings("type", "name", "url")))
    ),
    location=_object(
        **_strings("type", "country", "region", "city", "country_code", "continent_code")
    ),
    custom_attributes=_free_object(),
    tags=_list_of_refs(name=_string(), applied_at=_datetime()),
    notes=_list_of_refs(),
    companies=_list_of_refs(),
    opted_out_subscription_types=_list_of_refs(),
    opted_in_subscription_types=_list_of_refs(),
    merge_history=_array(  # 2.16
        _object(
            **_strings("type", "source_contact_id", "source_contact_role"),
            merged_at=_datetime(),
        )
    ),
)

_TEAM_RESPONSE_TIMES = _array(
    _object(team_id=_string(), team_name=_string(), response_time=_integer())
)

CONVERSATION = _stream(
    {"id": _id(), "updated_at": _datetime()},
    **_strings("type", "title", "state", "priority", "admin_assignee_id", "team_assignee_id"),
    **_datetimes("created_at", "waiting_since", "snoozed_until"),
    **_booleans("open", "read", "ai_agent_participated", "sales_agent_participated"),
    source=_object(
        **_strings("type", "id", "delivered_as", "subject", "body", "url"),
        author=AUTHOR,
        attachments=_array(ATTACHMENT),
        redacted=_boolean(),
        recipients=_array(_object(**_strings("type", "email", "drop_reason"))),
        reply_to=_array(_object(**_strings("email", "name"))),
        email_message_metadata=EMAIL_MESSAGE_METADATA,
    ),
    contacts=CONTACT_REFS,
    teammates=_object(type=_string(), teammates=_array(_ref())),
    tags=_object(
        type=_string(),
        tags=_array(
            _object(**_strings("type", "id", "name"), applied_at=_datetime(), applied_by=_ref())
        ),
    ),
    conversation_rating=_object(
        rating=_integer(),
        remark=_string(),
        **_datetimes("created_at", "updated_at"),
        contact=_ref("external_id"),
        teammate=_ref(),
    ),
    custom_attributes=_free_object(),
    first_contact_reply=_object(created_at=_datetime(), type=_string(), url=_string()),
    sla_applied=_object(**_strings("type", "sla_name", "sla_status")),
    statistics=_object(
        **_strings("type", "last_closed_by_id"),
        **{
            name: _integer()
            for name in (
                "time_to_assignment",
                "time_to_admin_reply",
                "time_to_first_close",
                "time_to_last_close",
                "median_time_to_reply",
                "count_reopens",
                "count_assignments",
                "count_conversation_parts",
                "handling_time",
                "adjusted_handling_time",
            )
        },
        **_datetimes(
            "first_contact_reply_at",
            "first_assignment_at",
            "first_admin_reply_at",
            "first_close_at",
            "last_assignment_at",
            "last_assignment_admin_reply_at",
            "last_contact_reply_at",
            "last_admin_reply_at",
            "last_close_at",
        ),
        assigned_team_first_response_time=_TEAM_RESPONSE_TIMES,
        assigned_team_first_response_time_in_office_hours=_TEAM_RESPONSE_TIMES,
    ),
    linked_objects=LINKED_OBJECTS,
    ai_agent=_object(
        **_strings(
            "source_type", "source_title", "last_answer_type", "resolution_state", "rating_remark"
        ),
        rating=_integer(),
        **_datetimes("created_at", "updated_at"),
        content_sources=_object(
            type=_string(),
            total_count=_integer(),
            content_sources=_array(_object(**_strings("content_type", "url", "title", "locale"))),
        ),
    ),
    # 2.16 additions
    company=_free_object(**_strings("type", "id", "name", "company_id")),
    sales_agent=_object(**_strings("outcome", "routing_outcome"), collected_data=_free_object()),
    channel=_object(**_strings("initial", "current")),
    external_references=_array(_object(**_strings("type", "id"))),
    monitor_evaluations=_array(
        _object(
            **_strings("monitor_id", "monitor_name", "monitor_type", "result", "explanation"),
            evaluated_at=_datetime(),
        )
    ),
    scorecards=_array(
        _object(
            **_strings("scorecard_id", "scorecard_version_id", "name", "scorecard_type"),
            passed=_boolean(),
            score=_number(),
            ai_score=_number(),
            evaluated_at=_datetime(),
            reviewed_teammate=_object(**_strings("type", "admin_id")),
            evaluators=_array(
                _object(
                    evaluator_id=_string(),
                    result=_object(
                        **_strings("value", "source", "reasoning", "other_text"),
                        reason_ids=_array(_string()),
                    ),
                )
            ),
        )
    ),
    conversation_parts=PARTS_COUNT,
)

_PART_COMMON: dict[str, Schema] = {
    **_strings("type", "part_type", "body", "external_id", "app_package_code"),
    **_datetimes("created_at", "updated_at"),
    "assigned_to": _ref(),
    "author": AUTHOR,
    "attachments": _array(ATTACHMENT),
    "redacted": _boolean(),
}

CONVERSATION_PART = _stream(
    {"id": _id(), "conversation_id": _id()},
    **_PART_COMMON,
    notified_at=_datetime(),
    state=_string(),
    tags=_array(_object(**_strings("type", "id", "name"))),
    event_details=_free_object(),
    metadata=_object(
        quick_reply_options=_array(
            _object(**_strings("text", "uuid"), translations=_free_object())
        ),
        quick_reply_uuid=_string(),
    ),
    email_message_metadata=EMAIL_MESSAGE_METADATA,
)

TICKET = _stream(
    {"id": _id(), "updated_at": _datetime()},
    **_strings(
        "type",
        "ticket_id",
        "category",
        "ticket_state_internal_label",  # 2.11
        "ticket_state_external_label",  # 2.11
        "admin_assignee_id",
        "team_assignee_id",
        "previous_ticket_state_id",  # 2.16
    ),
    **_datetimes("created_at", "snoozed_until"),
    **_booleans("open", "is_shared"),
    ticket_attributes=_free_object(),
    ticket_state=TICKET_STATE,  # 2.11's category string becomes {"type", "category"}
    ticket_type=_object(id=_string(), **_TICKET_TYPE_PROPERTIES),
    contacts=CONTACT_REFS,
    linked_objects=LINKED_OBJECTS,
    ticket_parts=PARTS_COUNT,
)

TICKET_PART = _stream(
    {"id": _id(), "ticket_id": _id()},
    **_PART_COMMON,
    previous_ticket_state=_string(),
    ticket_state=_string(),
    updated_attribute_data=_object(
        attribute=_object(**_strings("type", "id", "label")),
        # `id` and `label` are a string or an array (multi-select): always an array here.
        value=_object(type=_string(), id=_array(_string()), label=_array(_string())),
    ),
)


def _props(*props: th.Property) -> Schema:
    return th.PropertiesList(*props).to_dict()


ANY_OBJECT = th.ObjectType(additional_properties=True, nullable=True)

_EVENT_COMMON = (
    th.Property("event_id", th.StringType, required=True),
    th.Property("metric", th.StringType, required=True),
    th.Property("occurred_at", th.DateTimeType, required=True),
    # At or before the stored event floor: re-read by the lookback, possibly emitted before.
    th.Property("from_lookback", th.BooleanType, required=True),
    # The Intercom workspace (`app.id_code` of GET /me) the event happened in.
    th.Property("workspace_id", th.StringType(nullable=True)),
    th.Property("object_type", th.StringType, required=True),
    th.Property("conversation_id", th.StringType(nullable=True)),
    th.Property("ticket_id", th.StringType(nullable=True)),
    th.Property("part_id", th.StringType(nullable=True)),
    th.Property("contact_id", th.StringType(nullable=True)),
    th.Property("contact_role", th.StringType(nullable=True)),
    th.Property("contact_email", th.StringType(nullable=True)),
    th.Property("contact_phone", th.StringType(nullable=True)),
    th.Property("contact_external_id", th.StringType(nullable=True)),
    th.Property("assigned_team", th.StringType(nullable=True)),
    th.Property("assigned_admin_name", th.StringType(nullable=True)),
    th.Property("assigned_admin_email", th.StringType(nullable=True)),
    th.Property("snoozed_until", th.DateTimeType(nullable=True)),
)

CONVERSATION_EVENT = _props(
    *_EVENT_COMMON,
    th.Property("title", th.StringType(nullable=True)),
    th.Property("waiting_since", th.DateTimeType(nullable=True)),
    th.Property("priority", th.StringType(nullable=True)),
    th.Property("priority_level", th.StringType(nullable=True)),
    th.Property("tags", th.ArrayType(th.StringType, nullable=True)),
    th.Property("conversation_rating", th.IntegerType(nullable=True)),
    th.Property("conversation_source", th.StringType(nullable=True)),
    th.Property("conversation_delivered_as", th.StringType(nullable=True)),
    th.Property("conversation_part_count", th.IntegerType(nullable=True)),
    th.Property("sla_status", th.StringType(nullable=True)),
    th.Property("reopen_count", th.IntegerType(nullable=True)),
    th.Property("assignment_count", th.IntegerType(nullable=True)),
    th.Property("custom_attributes", ANY_OBJECT),
)

TICKET_EVENT = _props(
    *_EVENT_COMMON,
    th.Property("category", th.StringType(nullable=True)),
    th.Property("ticket_part_count", th.IntegerType(nullable=True)),
    th.Property("ticket_type", th.StringType(nullable=True)),
    th.Property("ticket_name", th.StringType(nullable=True)),
    th.Property("ticket_description", th.StringType(nullable=True)),
    th.Property("is_shared", th.BooleanType(nullable=True)),
)
