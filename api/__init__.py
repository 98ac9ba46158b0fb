"""The HTTP control API (aiohttp): routes, auth, error mapping, OpenAPI document."""
