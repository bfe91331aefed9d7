"""The hand-written OpenAPI document matches the app's routes, both ways, and is self-consistent."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from nitro_wallet.host.api.openapi import document
from nitro_wallet.host.api.signatures import KIND_OPERATIONS
from nitro_wallet.wire.wallet import SignOperation

pytestmark = pytest.mark.anyio

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PUBLIC = {("get", "/upcheck"), ("get", "/healthcheck"), ("get", "/metrics"), ("get", "/v1/openapi.json")}


def app_operations(app: Starlette) -> set[tuple[str, str]]:
    operations = set()
    for route in app.routes:
        assert isinstance(route, Route)
        assert route.methods is not None
        operations |= {(method.lower(), route.path) for method in route.methods if method != "HEAD"}
    return operations


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS
    }


async def test_it_is_served_without_credentials(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.json() == document()
    assert response.json()["openapi"] == "3.1.0"


async def test_every_route_is_documented_and_every_documented_route_exists(app: Starlette) -> None:
    assert documented_operations(document()) == app_operations(app)


def test_public_routes_are_exactly_those_marked_without_security() -> None:
    doc = document()
    public = {
        (method, path)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == []
    }
    assert public == PUBLIC


def test_path_parameters_are_declared() -> None:
    for path, item in document()["paths"].items():
        in_path = set(re.findall(r"\{(\w+)\}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, path


def test_every_reference_resolves() -> None:
    doc = document()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                section, kind, name = node["$ref"].removeprefix("#/").split("/")
                assert name in doc[section][kind], node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)


def test_every_operation_documents_its_success_and_its_errors() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert statuses & {"200", "201", "204"}, (method, path)
            if operation.get("security") != []:
                assert {"401", "500", "503"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= statuses, (method, path)


def test_sign_kinds_cover_every_v1_operation() -> None:
    v1 = {op for op in SignOperation.ALL if not op.startswith("reference.")}
    assert set(KIND_OPERATIONS.values()) == v1
    kinds = document()["paths"]["/v1/keys/{key_id}/sign/{kind}"]["post"]["parameters"][1]["schema"]["enum"]
    assert kinds == list(KIND_OPERATIONS)
