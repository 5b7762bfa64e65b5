"""The document's version follows the code: a change to the document without a new version in
api_gateway/api_version.json fails here (docs/api-clients.md)."""
from __future__ import annotations

from api_gateway.openapi import API_VERSION, fingerprint
from tests.contract.conftest import Platform


def test_the_document_carries_the_version_of_its_fingerprint(platform: Platform):
    found = fingerprint(platform.document)
    assert found == API_VERSION["fingerprint"], (
        f"The API document changed: raise `version` in api_gateway/api_version.json (minor for an "
        f"addition, major for a breaking change) and set `fingerprint` to {found!r}")
    assert platform.document["info"]["version"] == API_VERSION["version"]
