"""A local stand-in of the Intercom REST API (versions 2.11-2.16), strict and awkward where Intercom is.

Modules: `model` (compact records and derived facts), `generator` (the seeded workspace), `ledger` (contract
events recorded as things are made), `render` (records -> JSON per version), `search` (query language),
`paging` (keyset cursors), `rate_limit`, `mutations`, `api` (REST routes), `control` (/_sandbox routes),
`app` (middlewares and `create_app`), `testing` (a requests client for tests).
"""
