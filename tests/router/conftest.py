from __future__ import annotations

import pytest

from acd.router.reference import ReferenceRouter
from acd.router.router import Router

RouterClass = type[ReferenceRouter] | type[Router]


@pytest.fixture(params=[ReferenceRouter, Router], ids=["reference", "indexed"])
def router_class(request: pytest.FixtureRequest) -> RouterClass:
    cls: RouterClass = request.param
    return cls
