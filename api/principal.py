"""The request key under which `api.auth.requires` leaves who the caller is, for handlers that
count by token (the event streams). Its own module: `api.events` needs it and `api.auth`
depends, through `api.context`, on `api.events`."""

from __future__ import annotations

from aiohttp import web

from acd.service import Principal

PRINCIPAL = web.RequestKey("principal", Principal)
