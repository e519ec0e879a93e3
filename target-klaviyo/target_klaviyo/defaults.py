"""The default mapping: tap-intercom-events' streams to the data contract (docs/interfaces.md sections 1 and 2)."""

from __future__ import annotations

from typing import Any

# Shared by every default event stream: who the event is about (docs/interfaces.md section 1).
_EVENT_IDENTITY = {
    "metric_field": "metric",
    "unique_id_field": "event_id",
    "time_field": "occurred_at",
    "email_field": "contact_email",
    "phone_field": "contact_phone",
    "external_id_field": "contact_external_id",
    "person_field": "contact_id",
    "source_field": "workspace_id",
}

CONVERSATION_EVENT_PROPERTIES = {
    "title": "Title",
    "snoozed_until": "Snoozed Until",
    "waiting_since": "Waiting Since",
    "priority": "Priority",
    "priority_level": "Priority Level",
    "assigned_team": "Assigned Team",
    "assigned_admin_name": "Assigned Admin Name",
    "assigned_admin_email": "Assigned Admin Email",
    "tags": "Tags",
    "conversation_rating": "Conversation Rating",
    "conversation_source": "Conversation Source",
    "conversation_delivered_as": "Conversation Delivered As",
    "conversation_part_count": "Conversation Part Count",
    "sla_status": "SLA Status",
    "reopen_count": "Reopen Count",
    "assignment_count": "Assignment Count",
    "custom_attributes": "Custom Attributes",
}

TICKET_EVENT_PROPERTIES = {
    "category": "Category",
    "assigned_team": "Assigned Team",
    "assigned_admin_name": "Assigned Admin Name",
    "assigned_admin_email": "Assigned Admin Email",
    "snoozed_until": "Snoozed Until",
    "ticket_part_count": "Ticket Part Count",
    "ticket_id": "Ticket ID",
    "ticket_type": "Ticket Type",
    "ticket_name": "Ticket Name",
    "ticket_description": "Ticket Description",
    "is_shared": "Is Shared",
}

# The tap marks the events it re-emits from its lookback (docs/interfaces.md section 1): counted
# apart from new deliveries, never an event property.
_LOOKBACK = {"lookback_field": "from_lookback"}

DEFAULT_EVENT_STREAMS: dict[str, dict[str, Any]] = {
    "conversation_events": {
        **_EVENT_IDENTITY,
        **_LOOKBACK,
        "properties": CONVERSATION_EVENT_PROPERTIES,
    },
    "ticket_events": {**_EVENT_IDENTITY, **_LOOKBACK, "properties": TICKET_EVENT_PROPERTIES},
}

DEFAULT_PROFILE_STREAMS: dict[str, dict[str, Any]] = {
    "contacts": {
        "email_field": "email",
        "phone_field": "phone",
        "external_id_field": "external_id",
        "person_field": "id",
        "name_field": "name",
        "image_field": "avatar",
        "location_field": "location",
        "properties": {
            "id": "Intercom Contact ID",
            "role": "Intercom Contact Role",
            "has_hard_bounced": "Intercom_has_hard_bounced",
            "marked_email_as_spam": "Intercom_marked_email_as_spam",
            "unsubscribed_from_emails": "Intercom_unsubscribed_from_emails",
            "opted_out_subscription_types.total_count": "Intercom_opted_out_subscription_types_count",
            "custom_attributes": "Intercom_custom_attributes",
            "tag_names": "Intercom_tags",
        },
    },
}

# Resolved Ticket carries Klaviyo's own names and only these ten properties (docs/contract.md, "Properties
# of the ticket metrics"); null leaves a property out.
DEFAULT_METRIC_PROPERTY_NAMES: dict[str, dict[str, str | None]] = {
    "Resolved Ticket": {
        "email": "Contact Email",
        "phone_number": "Contact Phone",
        "Assigned Team": "Team Name",
        "Assigned Admin Name": "Admin Name",
        "Assigned Admin Email": "Admin Email",
        "Snoozed Until": None,
        "Ticket Part Count": None,
        "Ticket Type": None,
    },
}

# tap-intercom-events streams that report what the tap could not read (truncated_parts: conversations
# and tickets past Intercom's 500-part cap whose missing parts may hold events). Each record goes to
# the dead-letter file, where users look for what did not reach Klaviyo.
DEFAULT_REPORT_STREAMS = ["truncated_parts"]

# tap-intercom-events streams that are not delivered to Klaviyo (their content reaches Klaviyo
# through the event streams).
DEFAULT_SKIP_STREAMS = [
    "admins",
    "teams",
    "tags",
    "ticket_types",
    "conversations",
    "conversation_parts",
    "tickets",
    "ticket_parts",
]
