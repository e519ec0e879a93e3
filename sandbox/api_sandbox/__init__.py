"""Local stand-ins for the Intercom and Klaviyo REST APIs (tests, benchmarks, demo)."""
