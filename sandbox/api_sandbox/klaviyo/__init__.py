"""Local stand-in of Klaviyo's REST API: events, bulk events, profile import and bulk profile import jobs."""
