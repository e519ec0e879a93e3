"""Stream schemas: typed where the contract relies on a field, permissive where Intercom versions differ.

Ids are string or integer (the API mixes them across versions), nested objects allow extra keys,
and version-dependent enums (priority, ticket_state) are plain strings or objects.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

ID = th.CustomType({"type": ["string", "integer", "null"]})
EPOCH = th.IntegerType(nullable=True)
ANY_OBJECT = th.ObjectType(additional_properties=True, nullable=True)
STRING_OR_OBJECT = th.CustomType({"type": ["string", "object", "null"]})
LIST_WRAPPER = th.ObjectType(
    th.Property("type", th.StringType(nullable=True)),
    th.Property("total_count", th.IntegerType(nullable=True)),
    th.Property("has_more", th.BooleanType(nullable=True)),
    additional_properties=True,
    nullable=True,
)


def _props(*props: th.Property) -> dict[str, Any]:
    return th.PropertiesList(*props).to_dict()


ADMIN = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("name", th.StringType(nullable=True)),
    th.Property("email", th.StringType(nullable=True)),
    th.Property("job_title", th.StringType(nullable=True)),
    th.Property("away_mode_enabled", th.BooleanType(nullable=True)),
    th.Property("away_mode_reassign", th.BooleanType(nullable=True)),
    th.Property("has_inbox_seat", th.BooleanType(nullable=True)),
    th.Property("team_ids", th.ArrayType(ID, nullable=True)),
    th.Property("avatar", STRING_OR_OBJECT),
    th.Property("email_verified", th.BooleanType(nullable=True)),
    th.Property("away_status_reason_id", ID),
    th.Property("team_priority_level", ANY_OBJECT),
)

TEAM = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("name", th.StringType(nullable=True)),
    th.Property("admin_ids", th.ArrayType(ID, nullable=True)),
    th.Property("admin_priority_level", ANY_OBJECT),
    th.Property("assignment_limit", th.IntegerType(nullable=True)),
    th.Property("distribution_method", th.StringType(nullable=True)),
)

TAG = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("name", th.StringType(nullable=True)),
)

TICKET_TYPE = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("name", th.StringType(nullable=True)),
    th.Property("description", th.StringType(nullable=True)),
    th.Property("category", th.StringType(nullable=True)),
    th.Property("icon", th.StringType(nullable=True)),
    th.Property("workspace_id", th.StringType(nullable=True)),
    th.Property("archived", th.BooleanType(nullable=True)),
    th.Property("is_internal", th.BooleanType(nullable=True)),
    th.Property("created_at", EPOCH),
    th.Property("updated_at", EPOCH),
    th.Property("ticket_type_attributes", ANY_OBJECT),
    th.Property("ticket_states", ANY_OBJECT),
)

CONTACT = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("workspace_id", th.StringType(nullable=True)),
    th.Property("external_id", th.StringType(nullable=True)),
    th.Property("role", th.StringType(nullable=True)),
    th.Property("email", th.StringType(nullable=True)),
    th.Property("email_domain", th.StringType(nullable=True)),
    th.Property("phone", th.StringType(nullable=True)),
    th.Property("formatted_phone", th.StringType(nullable=True)),
    th.Property("name", th.StringType(nullable=True)),
    th.Property("avatar", STRING_OR_OBJECT),
    th.Property("owner_id", ID),
    th.Property("has_hard_bounced", th.BooleanType(nullable=True)),
    th.Property("marked_email_as_spam", th.BooleanType(nullable=True)),
    th.Property("unsubscribed_from_emails", th.BooleanType(nullable=True)),
    th.Property("created_at", EPOCH),
    th.Property("updated_at", th.IntegerType, required=True),
    th.Property("signed_up_at", EPOCH),
    th.Property("last_seen_at", EPOCH),
    th.Property("last_replied_at", EPOCH),
    th.Property("last_contacted_at", EPOCH),
    th.Property("last_email_opened_at", EPOCH),
    th.Property("last_email_clicked_at", EPOCH),
    th.Property("language_override", th.StringType(nullable=True)),
    th.Property("browser", th.StringType(nullable=True)),
    th.Property("browser_version", th.StringType(nullable=True)),
    th.Property("browser_language", th.StringType(nullable=True)),
    th.Property("os", th.StringType(nullable=True)),
    th.Property("utm_campaign", th.StringType(nullable=True)),
    th.Property("utm_content", th.StringType(nullable=True)),
    th.Property("utm_medium", th.StringType(nullable=True)),
    th.Property("utm_source", th.StringType(nullable=True)),
    th.Property("utm_term", th.StringType(nullable=True)),
    th.Property("referrer", th.StringType(nullable=True)),
    th.Property("enabled_push_messaging", th.BooleanType(nullable=True)),
    th.Property("merge_history", th.CustomType({"type": ["object", "array", "null"]})),
    th.Property(
        "location",
        th.ObjectType(
            th.Property("city", th.StringType(nullable=True)),
            th.Property("country", th.StringType(nullable=True)),
            th.Property("region", th.StringType(nullable=True)),
            th.Property("country_code", th.StringType(nullable=True)),
            th.Property("continent_code", th.StringType(nullable=True)),
            additional_properties=True,
            nullable=True,
        ),
    ),
    th.Property("custom_attributes", ANY_OBJECT),
    th.Property("tags", LIST_WRAPPER),
    th.Property("notes", LIST_WRAPPER),
    th.Property("companies", LIST_WRAPPER),
    th.Property("opted_out_subscription_types", LIST_WRAPPER),
    th.Property("opted_in_subscription_types", LIST_WRAPPER),
    th.Property("social_profiles", ANY_OBJECT),
    th.Property("tag_names", th.ArrayType(th.StringType), required=True),
)

CONVERSATION = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("title", th.StringType(nullable=True)),
    th.Property("created_at", EPOCH),
    th.Property("updated_at", th.IntegerType, required=True),
    th.Property("waiting_since", EPOCH),
    th.Property("snoozed_until", EPOCH),
    th.Property("open", th.BooleanType(nullable=True)),
    th.Property("state", th.StringType(nullable=True)),
    th.Property("read", th.BooleanType(nullable=True)),
    th.Property("priority", th.StringType(nullable=True)),
    th.Property("admin_assignee_id", ID),
    th.Property("team_assignee_id", ID),
    th.Property("source", ANY_OBJECT),
    th.Property("contacts", ANY_OBJECT),
    th.Property("teammates", ANY_OBJECT),
    th.Property("tags", ANY_OBJECT),
    th.Property("conversation_rating", ANY_OBJECT),
    th.Property("custom_attributes", ANY_OBJECT),
    th.Property("first_contact_reply", ANY_OBJECT),
    th.Property("sla_applied", ANY_OBJECT),
    th.Property("statistics", ANY_OBJECT),
    th.Property("linked_objects", ANY_OBJECT),
    th.Property("ai_agent_participated", th.BooleanType(nullable=True)),
    th.Property("ai_agent", ANY_OBJECT),
    th.Property("conversation_parts", LIST_WRAPPER),  # total_count only: parts are their own stream
)

_PART_COMMON = (
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("part_type", th.StringType(nullable=True)),
    th.Property("body", th.StringType(nullable=True)),
    th.Property("created_at", EPOCH),
    th.Property("updated_at", EPOCH),
    th.Property("notified_at", EPOCH),
    th.Property("assigned_to", ANY_OBJECT),
    th.Property("author", ANY_OBJECT),
    th.Property("attachments", th.ArrayType(ANY_OBJECT, nullable=True)),
    th.Property("external_id", th.StringType(nullable=True)),
    th.Property("redacted", th.BooleanType(nullable=True)),
    th.Property("app_package_code", th.StringType(nullable=True)),
)

CONVERSATION_PART = _props(
    *_PART_COMMON,
    th.Property("conversation_id", th.StringType, required=True),
    th.Property("state", th.StringType(nullable=True)),
    th.Property("tags", th.ArrayType(ANY_OBJECT, nullable=True)),
    th.Property("event_details", ANY_OBJECT),
    th.Property("metadata", ANY_OBJECT),
    th.Property("email_message_metadata", ANY_OBJECT),
)

TICKET = _props(
    th.Property("id", th.StringType, required=True),
    th.Property("type", th.StringType(nullable=True)),
    th.Property("ticket_id", ID),
    th.Property("category", th.StringType(nullable=True)),
    th.Property("ticket_attributes", ANY_OBJECT),
    th.Property("ticket_state", STRING_OR_OBJECT),
    th.Property("ticket_state_internal_label", th.StringType(nullable=True)),
    th.Property("ticket_state_external_label", th.StringType(nullable=True)),
    th.Property("ticket_type", ANY_OBJECT),
    th.Property("contacts", ANY_OBJECT),
    th.Property("admin_assignee_id", ID),
    th.Property("team_assignee_id", ID),
    th.Property("created_at", EPOCH),
    th.Property("updated_at", th.IntegerType, required=True),
    th.Property("open", th.BooleanType(nullable=True)),
    th.Property("snoozed_until", EPOCH),
    th.Property("linked_objects", ANY_OBJECT),
    th.Property("is_shared", th.BooleanType(nullable=True)),
    th.Property("previous_ticket_state_id", ID),
    th.Property("ticket_parts", LIST_WRAPPER),  # total_count only: parts are their own stream
)

TICKET_PART = _props(
    *_PART_COMMON,
    th.Property("ticket_id", th.StringType, required=True),
    th.Property("ticket_state", th.StringType(nullable=True)),
    th.Property("previous_ticket_state", th.StringType(nullable=True)),
    th.Property("updated_attribute_data", ANY_OBJECT),
)

_EVENT_COMMON = (
    th.Property("event_id", th.StringType, required=True),
    th.Property("metric", th.StringType, required=True),
    th.Property("occurred_at", th.DateTimeType, required=True),
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
